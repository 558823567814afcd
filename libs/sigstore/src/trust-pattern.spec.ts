// Signer patterns: matched by a linear-time engine, anchored so that no pattern can escape its anchors, and
// matching what the JavaScript engine matched for the patterns policies are written with.
import fc from 'fast-check';
import { DevSigstore } from './dev-sigstore.js';
import { escapeRegExp, temporaryDirectory } from './sigstore-fixtures.test-support.js';
import { compileSignerPolicy } from './signer-policy.js';
import { compileTrustPattern, type TrustPattern } from './trust-pattern.js';
import { verifyBundle } from './verify-bundle.js';

const WORKFLOW = 'https://gitea.example.com/acme/modules/my-redis-module/.gitea/workflows/build.yaml@refs/tags/v1.2.0';
const ISSUER = 'https://gitea.example.com';
const CATASTROPHIC = '(.*.*)*X';

function compiled(pattern: string): TrustPattern {
  const result = compileTrustPattern(pattern);
  if (!result.ok) throw new Error(`${pattern} was refused: ${result.reason}`);
  return result.pattern;
}

describe('matching time', () => {
  test('a pattern that backtracks catastrophically on V8 is matched by RE2, in time linear in the value', () => {
    const pattern = compiled(CATASTROPHIC);
    // The engine is the guarantee; the matches below would not finish on a backtracking engine.
    expect(pattern.engine).toBe('re2');
    expect(pattern.test('a'.repeat(18))).toBe(false);
    expect(pattern.test('a'.repeat(100_000))).toBe(false);
    expect(pattern.test(`${'a'.repeat(100_000)}X`)).toBe(true);
  });

  test('a compiled signer policy matches identity and issuer with RE2', () => {
    const policy = compileSignerPolicy({ identity_regexp: CATASTROPHIC, issuer_regexp: '(a|aa)+' });
    expect(policy).toMatchObject({ ok: true, policy: { type: 'identity', identity: { engine: 're2' }, issuer: { engine: 're2' } } });
  });

  test('ingest judges a signature under a catastrophic pattern: a mismatch verdict, not a stalled process', async () => {
    const { dir, remove } = await temporaryDirectory('trust-pattern');
    try {
      const dev = await DevSigstore.loadOrCreate(dir);
      const artifact = Buffer.from('{"schemaVersion":2}');
      const bundle = dev.sign({ artifact, identity: WORKFLOW, issuer: ISSUER });
      const policy = { identity_regexp: CATASTROPHIC, issuer_regexp: escapeRegExp(ISSUER) };
      const ready = compileSignerPolicy(policy);
      expect(ready.ok && ready.policy.type === 'identity' && ready.policy.identity.engine).toBe('re2');
      expect(verifyBundle({ bundle, artifact, policy, trust: dev.trust() })).toMatchObject({ verified: false, reason_code: 'identity_mismatch' });
    } finally {
      await remove();
    }
  });
});

describe('anchoring', () => {
  test.each([
    ['closes the anchoring group and opens another', 'https://gitea\\.example\\.com/acme/dev-signer)|(.*evil'],
    ['closes the anchoring group', 'https://gitea\\.example\\.com/.*)|(?:'],
    ['quotes the closing anchor away', 'https://gitea\\.example\\.com/\\Q'],
  ])('refuses a pattern that %s', (_what, pattern) => {
    const result = compileTrustPattern(pattern);
    expect(result).toMatchObject({ ok: false, rule: 'trust_pattern_compiles' });
  });

  test('the escaping pattern is refused as a signer policy, naming the field, and verifies nothing', () => {
    const policy = { identity_regexp: 'https://gitea\\.example\\.com/acme/dev-signer)|(.*evil', issuer_regexp: '.*' };
    const result = compileSignerPolicy(policy);
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/^identity_regexp is not a valid RE2 regular expression/) });
  });

  test('an alternation stays inside the anchors', () => {
    const pattern = compiled('alice@example\\.com|bob@example\\.com');
    expect(pattern.test('bob@example.com')).toBe(true);
    expect(pattern.test('mallory-bob@example.com')).toBe(false);
    expect(pattern.test('alice@example.com.evil.io')).toBe(false);
  });
});

describe('syntax', () => {
  test.each([
    ['a backreference', '(a)\\1'],
    ['a lookahead', 'https://gitea\\.example\\.com/(?!evil).*'],
    ['a lookbehind', '(?<!evil)\\.example\\.com'],
    ['unbalanced parentheses', 'https://(gitea'],
    ['a lone quantifier', '*'],
  ])('refuses %s with a reason that says what RE2 does not support', (_what, pattern) => {
    const result = compileTrustPattern(pattern);
    expect(result).toMatchObject({
      ok: false,
      rule: 'trust_pattern_compiles',
      reason: expect.stringMatching(/not a valid RE2 regular expression .*backreferences .*lookarounds/),
    });
  });

  test.each([[''], ['   ']])('refuses the empty pattern %j', (pattern) => {
    expect(compileTrustPattern(pattern)).toMatchObject({ ok: false, rule: 'trust_pattern_required' });
  });
});

describe('policies written for the JavaScript engine keep matching the same', () => {
  // The shapes stored policies take: escaped literals, prefixes with a wildcard tail, tag and version classes,
  // alternations, author-written anchors, escaped slashes.
  const patterns = [
    'https://gitea\\.example\\.com/acme/modules/my-redis-module/\\.gitea/workflows/build\\.yaml@refs/tags/v.*',
    'https://gitea\\.example\\.com/.*',
    'https://gitea\\.example\\.com',
    '^https://github\\.com/acme/redis-module/.+$',
    'https://github\\.com/acme/redis-module/\\.github/workflows/build\\.yaml@refs/tags/v[0-9.]+',
    'alice@example\\.com|bob@example\\.com',
    'https:\\/\\/gitea\\.example\\.com\\/acme\\/[\\w.-]+\\/.*',
    '[a-z]+@example\\.(com|org)',
    'https://gitea\\.example\\.com/acme/v\\d{1,3}\\.\\d+',
    '.*',
  ];
  const identityPiece = fc.constantFrom(
    'https://',
    'gitea.example.com',
    'github.com',
    '/acme/',
    'redis-module',
    '.gitea/workflows/build.yaml',
    '@refs/tags/v',
    '1.2.0',
    'alice',
    'bob',
    '@example.com',
    '.org',
    '/',
    '.',
    'x',
    '9',
    '-',
    '_',
  );
  const identity = fc.oneof(
    fc.array(identityPiece, { maxLength: 12 }).map((pieces) => pieces.join('')),
    fc.string({ unit: 'grapheme-ascii', maxLength: 60 }),
  );

  test.each(patterns)('%s', (source) => {
    const re2 = compiled(source);
    const js = new RegExp(`^(?:${source})$`);
    fc.assert(
      fc.property(identity, (value) => re2.test(value) === js.test(value)),
      { numRuns: 300 },
    );
  });
});
