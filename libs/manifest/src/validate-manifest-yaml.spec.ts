import { isPowernodeError, type ManifestValidationIssue, type ManifestValidationResult } from '@powernode/contracts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatValidationReport, MAX_MANIFEST_BYTES, parseModuleManifestYaml, validateManifestYaml } from './index.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test/fixtures');
/** Files copied from the reference example modules (see its README). */
const VENDORED_REFERENCE_DIR = path.join(fixtures, 'reference-modules');

const minimal = 'schema_version: 1\nname: my-redis\n';

/** The issue at `path` among errors (or warnings), without the code/position noise when not needed. */
function issueAt(result: ManifestValidationResult, issuePath: string, list: 'errors' | 'warnings' = 'errors'): ManifestValidationIssue | undefined {
  return result[list].find((issue) => issue.path === issuePath);
}

describe('validateManifestYaml on the tutorial', () => {
  test('the tutorial manifest is valid', () => {
    expect(validateManifestYaml(readFileSync(path.join(fixtures, 'tutorial-my-redis/manifest.yaml'), 'utf8'))).toEqual({
      valid: true,
      errors: [],
      warnings: [],
    });
  });
});

describe('validateManifestYaml leaves package availability to the build', () => {
  test("package names the build distribution may lack (Ubuntu's ruby3.3) are accepted: availability is checked at build time", () => {
    const result = validateManifestYaml(`${minimal}package_spec: [ruby3.3, ruby3.3-dev, libssl3t64, "python3.12:amd64", "redis-server=5:7.0.15-1"]\n`);
    expect(result).toEqual({ valid: true, errors: [], warnings: [] });
  });
});

describe('validateManifestYaml reports bad input with its YAML path and position', () => {
  test('an unknown key, at the key, with a suggestion', () => {
    const result = validateManifestYaml(`${minimal}fil_spec:\n  - /etc/**\n`);
    expect(result.valid).toBe(false);
    expect(result.errors).toEqual([
      { path: 'fil_spec', code: 'unknown_key', line: 3, column: 1, message: 'unknown key "fil_spec"; did you mean "file_spec"?' },
    ]);
  });

  test('an unknown nested key lists the allowed keys', () => {
    const result = validateManifestYaml(`${minimal}security:\n  privileged: false\n  seccomp: x\n`);
    expect(issueAt(result, 'security.seccomp')).toMatchObject({ code: 'unknown_key', line: 5, column: 3 });
    expect(issueAt(result, 'security.seccomp')?.message).toMatch(
      /allowed keys: capabilities, selinux_profile, apparmor_profile, seccomp_profile, egress_allow, privileged, user_namespace/,
    );
  });

  test('platform-side fields are explained, not just refused', () => {
    const result = validateManifestYaml(`${minimal}category: userland\ncosign_identity_regexp: x\n`);
    expect(issueAt(result, 'category')).toMatchObject({ code: 'unknown_key', line: 3, column: 1 });
    expect(issueAt(result, 'category')?.message).toMatch(/set on the platform when the module is registered/);
    expect(issueAt(result, 'cosign_identity_regexp')).toMatchObject({ line: 4 });
  });

  test('a bad name, at the value', () => {
    const result = validateManifestYaml('schema_version: 1\nname: BadName\n');
    expect(result.errors).toEqual([
      {
        path: 'name',
        code: 'invalid_value',
        line: 2,
        column: 7,
        message: 'must be 1–64 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen, got the string "BadName"',
      },
    ]);
  });

  test('missing required fields', () => {
    const result = validateManifestYaml('display_name: x\n');
    expect(result.errors.map((e) => [e.path, e.code, e.message])).toEqual([
      ['schema_version', 'missing_field', 'is required: add "schema_version: 1"'],
      ['name', 'missing_field', 'is required'],
    ]);
  });

  test('schema_version 99 and "1"', () => {
    expect(issueAt(validateManifestYaml('schema_version: 99\nname: x\n'), 'schema_version')?.message).toBe(
      'must be 1, the only manifest schema version this platform reads, got the integer 99',
    );
    expect(issueAt(validateManifestYaml('schema_version: "1"\nname: x\n'), 'schema_version')).toMatchObject({ code: 'invalid_value', line: 1, column: 17 });
  });

  test('bad requires entries: no owner, bad range, wrong type', () => {
    const text = `${minimal}dependencies:\n  requires:\n    - powernode/system-base@^1.0\n    - system-base@^1.0\n    - powernode/security-hardening@latest\n    - 5\n`;
    const result = validateManifestYaml(text);
    expect(result.errors).toEqual([
      {
        path: 'dependencies.requires[1]',
        code: 'invalid_requires',
        line: 6,
        column: 7,
        message: 'must be <owner>/<module>@<version range> (e.g. powernode/system-base@^1.0): "system-base" has no owner',
      },
      {
        path: 'dependencies.requires[2]',
        code: 'invalid_requires',
        line: 7,
        column: 7,
        message: '"latest" is not a semver range: use ^1.0, ~1.2, =1.2.3, 1.x, >=1.2 <2 or *',
      },
      { path: 'dependencies.requires[3]', code: 'invalid_type', line: 8, column: 7, message: 'must be a string, got the integer 5' },
    ]);
  });

  test('a module requiring itself, and the same module twice', () => {
    const result = validateManifestYaml(`${minimal}dependencies:\n  requires: ["acme/my-redis@^1", "acme/base@^1", "acme/base@^2"]\n`);
    expect(issueAt(result, 'dependencies.requires[0]')).toMatchObject({ code: 'self_dependency', line: 4 });
    expect(issueAt(result, 'dependencies.requires[2]')).toMatchObject({
      code: 'duplicate_entry',
      message: expect.stringContaining('also dependencies.requires[1]'),
    });
  });

  test('wrong types: a string for a list, "yes" for a boolean, a list for a mapping, an empty value', () => {
    const text = `${minimal}file_spec: "/etc/**"\nreboot_required: yes\ninit:\n  - systemctl start x\nlicense:\n`;
    const result = validateManifestYaml(text);
    expect(result.errors.map((e) => [e.path, e.line, e.column, e.message])).toEqual([
      ['file_spec', 3, 12, 'must be a list, got the string "/etc/**"'],
      ['reboot_required', 4, 18, 'must be true or false, got the string "yes" (YAML 1.2 reads only unquoted true and false as booleans)'],
      ['init', 6, 3, 'must be a mapping, got a list'],
      ['license', 7, 1, 'must be a string, got an empty value'],
    ]);
  });

  test('services: nested paths, enum values, bounds, duplicates and missing start_command', () => {
    const text = [
      minimal.trimEnd(),
      'services:',
      '  - name: web',
      '    start_command: /usr/sbin/nginx -g "daemon off;"',
      '    restart_policy: sometimes',
      '    exposed_ports:',
      '      - port: 70000',
      '        protocol: http',
      '    health:',
      '      interval_seconds: 0',
      '  - name: web',
      '    capabilities: [CAP_NET_BIND_SERVICES]',
      '',
    ].join('\n');
    const result = validateManifestYaml(text);
    expect(result.errors.map((e) => [e.path, e.code, e.line, e.column])).toEqual([
      ['services[0].restart_policy', 'invalid_value', 6, 21],
      ['services[0].exposed_ports[0].port', 'invalid_value', 8, 15],
      ['services[0].exposed_ports[0].protocol', 'invalid_value', 9, 19],
      ['services[0].health.interval_seconds', 'invalid_value', 11, 25],
      ['services[1]', 'missing_start_command', 12, 5],
      ['services[1].name', 'duplicate_service', 12, 11],
    ]);
    expect(issueAt(result, 'services[0].restart_policy')?.message).toBe('must be one of "never", "on-failure", "always", got the string "sometimes"');
    expect(issueAt(result, 'services[0].exposed_ports[0].port')?.message).toBe('must be a port number from 1 to 65535, got the integer 70000');
    expect(issueAt(result, 'services[1].capabilities[0]', 'warnings')).toMatchObject({ code: 'unknown_capability', line: 13, column: 20 });
  });

  test('init commands that need a shell are errors, with the character', () => {
    const text = `${minimal}init:\n  start: "systemctl start a && systemctl start b"\n  stop: "systemctl 'stop"\n  restart: ""\n`;
    const result = validateManifestYaml(text);
    expect(result.errors.map((e) => [e.path, e.code, e.line, e.column])).toEqual([
      ['init.start', 'invalid_command', 4, 10],
      ['init.stop', 'invalid_command', 5, 9],
    ]);
    expect(issueAt(result, 'init.start')?.message).toMatch(/"&&" operator .* \(at character 19\)$/);
    expect(issueAt(result, 'init.stop')?.message).toMatch(/single quote that is never closed \(at character 11\)$/);
  });

  test('invalid globs and a path both in file_spec and mask', () => {
    const text = `${minimal}file_spec:\n  - /etc/redis/**\n  - /etc/[abc\nmask:\n  - /etc/redis/**\n  - ""\nprotected_spec:\n  - /etc/redis/redis.conf\n`;
    const result = validateManifestYaml(text);
    expect(result.errors.map((e) => [e.path, e.code, e.line, e.column])).toEqual([
      ['file_spec[1]', 'invalid_glob', 5, 5],
      ['mask[0]', 'mask_file_spec_conflict', 7, 5],
      ['mask[1]', 'invalid_glob', 8, 5],
    ]);
    expect(issueAt(result, 'file_spec[1]')?.message).toBe(
      'is not a valid rsync glob: has a "[" that is never closed by "]"; write "\\[" for a literal bracket',
    );
    expect(issueAt(result, 'mask[1]')?.message).toBe('is not a valid rsync glob: the pattern is empty');
  });

  test('warnings: duplicates, a protected path the module does not own, odd packages and egress entries, privileged', () => {
    const text = [
      minimal.trimEnd(),
      'file_spec: ["/etc/redis/**", "/etc/redis/**"]',
      'protected_spec: ["/etc/shadow", "/etc/redis/redis.conf"]',
      'package_spec: ["redis-server", "Redis Server"]',
      'security:',
      '  egress_allow: ["pool.ntp.org:123", "10.0.0.0/8", "[::1]:443", "https://example.com", "host:70000"]',
      '  privileged: true',
      '',
    ].join('\n');
    const result = validateManifestYaml(text);
    expect(result.valid).toBe(true);
    expect(result.warnings.map((w) => [w.path, w.code])).toEqual([
      ['file_spec[1]', 'duplicate_entry'],
      ['protected_spec[0]', 'protected_not_owned'],
      ['package_spec[1]', 'invalid_package_name'],
      ['security.egress_allow[3]', 'invalid_egress'],
      ['security.egress_allow[4]', 'invalid_egress'],
      ['security.privileged', 'privileged_module'],
    ]);
  });
});

describe('validateManifestYaml on broken YAML', () => {
  test('an unclosed quote is reported where the string starts', () => {
    const result = validateManifestYaml('schema_version: 1\nname: my-redis\nfile_spec:\n  - "/etc/**\nmask: []\n');
    expect(result.valid).toBe(false);
    expect(result.errors).toEqual([
      { path: '', code: 'yaml_syntax', line: 4, column: 5, message: 'YAML syntax error: the double-quoted string that starts here is never closed' },
    ]);
  });

  test('a value that starts a nested mapping on the same line', () => {
    const result = validateManifestYaml('schema_version: 1\nname: my-redis\ninit:\n  start: systemctl start: x\n');
    expect(result.errors[0]).toMatchObject({ path: '', code: 'yaml_syntax', line: 4, column: 10 });
    expect(result.errors[0]?.message).toMatch(/^YAML syntax error: Nested mappings are not allowed/);
  });

  test('a tab used as indentation', () => {
    expect(validateManifestYaml('schema_version: 1\nname: x\nmask:\n\t- /var/log/**\n').errors[0]).toMatchObject({ code: 'yaml_syntax', line: 4, column: 1 });
  });

  test('an unclosed flow sequence', () => {
    expect(validateManifestYaml('schema_version: 1\nmask: [/var/log/**\nname: x\n').errors[0]).toMatchObject({ code: 'yaml_syntax', line: 3 });
  });

  test('a duplicate key names the key', () => {
    const result = validateManifestYaml('schema_version: 1\nname: a\nname: b\n');
    expect(result.errors).toEqual([
      { path: '', code: 'yaml_syntax', line: 3, column: 1, message: 'YAML syntax error: the key "name" appears twice in the same mapping; keep one' },
    ]);
  });

  test('two documents', () => {
    const result = validateManifestYaml(`${minimal}---\nname: other\n`);
    expect(result.errors[0]).toMatchObject({ code: 'yaml_syntax', line: 3 });
    expect(result.errors[0]?.message).toMatch(/more than one YAML document/);
  });

  test('an empty text, a comment-only text, a list, a scalar', () => {
    expect(validateManifestYaml('').errors.map((e) => e.code)).toEqual(['manifest_empty']);
    expect(validateManifestYaml('# nothing here\n').errors.map((e) => e.code)).toEqual(['manifest_empty']);
    expect(validateManifestYaml('- a\n').errors).toEqual([
      { path: '', code: 'not_a_mapping', line: 1, column: 1, message: 'the manifest must be a mapping of keys to values, got a list' },
    ]);
    expect(validateManifestYaml('hello\n').errors.map((e) => e.code)).toEqual(['not_a_mapping']);
  });

  test('an alias bomb is refused instead of expanded', () => {
    const lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
    for (let i = 1; i < 10; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    const result = validateManifestYaml(`${lines.join('\n')}\n`);
    expect(result.valid).toBe(false);
    // Its 90 aliases are over the alias limit, so it is refused before any is resolved.
    expect(result.errors[0]).toMatchObject({ code: 'manifest_too_deep', message: expect.stringContaining('aliases') });
  });

  test('a text over the size limit is refused before parsing', () => {
    const result = validateManifestYaml(`${minimal}description: "${'x'.repeat(MAX_MANIFEST_BYTES)}"\n`);
    expect(result.errors.map((e) => e.code)).toEqual(['manifest_too_large']);
  });
});

describe('parseModuleManifestYaml', () => {
  test('returns the typed manifest', () => {
    const manifest = parseModuleManifestYaml(readFileSync(path.join(VENDORED_REFERENCE_DIR, 'chrony/manifest.yaml'), 'utf8'));
    expect(manifest.name).toBe('chrony');
    expect(manifest.protected_spec).toContain('/etc/chrony/chrony.conf');
    expect(manifest.dependencies?.requires).toEqual(['powernode/system-base@^1.0']);
  });

  test('throws manifest_invalid listing every error with its line', () => {
    let caught: unknown;
    try {
      parseModuleManifestYaml('schema_version: 2\nname: Bad\n');
    } catch (error) {
      caught = error;
    }
    expect(isPowernodeError(caught) && caught.code).toBe('manifest_invalid');
    expect((caught as Error).message).toMatch(/line 1: schema_version: must be 1.*; line 2: name: must be/);
  });
});

describe('formatValidationReport', () => {
  test('prints compiler-style lines and a summary', () => {
    const result = validateManifestYaml(`${minimal}dependencies:\n  requires: [system-base]\nfile_spec: [/etc/x, /etc/x]\n`);
    expect(formatValidationReport(result, { file: 'modules/my-redis/manifest.yaml' })).toBe(
      [
        'modules/my-redis/manifest.yaml:4:14 error dependencies.requires[0]: must be <owner>/<module>@<version range> (e.g. powernode/system-base@^1.0): "system-base" has no "@<range>"; write "@*" to accept any version',
        'modules/my-redis/manifest.yaml:5:21 warning file_spec[1]: repeats "/etc/x" from file_spec[0]; remove the duplicate',
        'modules/my-redis/manifest.yaml: invalid, 1 error, 1 warning',
        '',
      ].join('\n'),
    );
  });

  test('a valid manifest prints one line', () => {
    expect(formatValidationReport(validateManifestYaml(minimal))).toBe('manifest.yaml: valid\n');
  });

  test('issues without a position and document-level issues', () => {
    expect(formatValidationReport({ valid: false, errors: [{ path: '', code: 'manifest_empty', message: 'empty' }], warnings: [] })).toBe(
      'manifest.yaml error (manifest): empty\nmanifest.yaml: invalid, 1 error\n',
    );
  });
});
