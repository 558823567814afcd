import { compileFilter, formatFilterRules, GlobSyntaxError, parseFilterRules } from './index.js';

describe('filter rules', () => {
  test('parses the rsync spec text the platform generates and renders it back unchanged', () => {
    const text = '- /etc/redis/sentinel.conf\n+ /etc/redis/**\n+ /var/lib/redis/.gitkeep\n- *\n';
    const rules = parseFilterRules(text);
    expect(rules).toEqual([
      { action: 'exclude', pattern: '/etc/redis/sentinel.conf' },
      { action: 'include', pattern: '/etc/redis/**' },
      { action: 'include', pattern: '/var/lib/redis/.gitkeep' },
      { action: 'exclude', pattern: '*' },
    ]);
    expect(formatFilterRules(rules)).toBe(text);
  });

  test('accepts the long rule names, comments and blank lines', () => {
    expect(parseFilterRules('# mask\n\ninclude /etc/**\r\n; done\nexclude *\n')).toEqual([
      { action: 'include', pattern: '/etc/**' },
      { action: 'exclude', pattern: '*' },
    ]);
  });

  test('refuses a line that is not a rule, naming its line number', () => {
    expect(() => parseFilterRules('+ /etc/**\nmerge /x\n')).toThrow(/filter line 2 "merge \/x"/);
    expect(() => parseFilterRules('+/etc/**\n')).toThrow(/filter line 1/);
  });

  test('first match wins and an unmatched entry is transferred', () => {
    const filter = compileFilter(parseFilterRules('+ /etc/redis/redis.conf\n- /etc/redis/*\n'));
    expect(filter.decide('/etc/redis/redis.conf')).toBe('include');
    expect(filter.decide('/etc/redis/sentinel.conf')).toBe('exclude');
    expect(filter.decide('/etc/passwd')).toBeUndefined();
    expect(filter.selects('/etc/passwd')).toBe(true);
  });

  test('an excluded directory hides everything below it, even what a later rule includes', () => {
    const filter = compileFilter(parseFilterRules('- /var/log/\n+ /var/log/keep.log\n'));
    expect(filter.selects('/var/log/keep.log')).toBe(false);
    expect(filter.selects('/var/log', true)).toBe(false);
    expect(filter.selects('/var/lib/x')).toBe(true);
  });

  test('a trailing "- *" without a directory rule reaches nothing below the root, as with rsync', () => {
    const filter = compileFilter(parseFilterRules('+ /etc/redis/**\n- *\n'));
    expect(filter.selects('/etc/redis/redis.conf')).toBe(false);
    const withDirs = compileFilter(parseFilterRules('+ */\n+ /etc/redis/**\n- *\n'));
    expect(withDirs.selects('/etc/redis/redis.conf')).toBe(true);
    expect(withDirs.selects('/etc/passwd')).toBe(false);
  });

  test('compiling an invalid pattern fails with GlobSyntaxError', () => {
    expect(() => compileFilter([{ action: 'exclude', pattern: '/etc/[' }])).toThrow(GlobSyntaxError);
  });
});
