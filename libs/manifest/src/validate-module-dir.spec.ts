import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatValidationReport, validateModuleDir } from './index.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test/fixtures');

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'manifest-dir-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A module directory under the scratch dir with `manifest` and the given rootfs files (relative paths). */
function moduleDir(manifest: string | undefined, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(scratch, 'module-'));
  if (manifest !== undefined) writeFileSync(path.join(dir, 'manifest.yaml'), manifest);
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, 'rootfs', file)), { recursive: true });
    writeFileSync(path.join(dir, 'rootfs', file), content);
  }
  return dir;
}

const header = 'schema_version: 1\nname: my-redis\n';

describe('validateModuleDir on the tutorial module', () => {
  test('the tutorial module (with its .gitkeep listed in file_spec) is clean', async () => {
    expect(await validateModuleDir(path.join(fixtures, 'tutorial-my-redis'))).toEqual({ valid: true, errors: [], warnings: [] });
  });
});

describe('rootfs coverage: rootfs/ ships verbatim, so a file file_spec does not cover is a warning naming it', () => {
  const fileSpecCases: Array<[label: string, fileSpec: string, file: string, uncovered: boolean]> = [
    ['no file_spec key', '', 'etc/motd', true],
    ['an empty file_spec', 'file_spec: []\n', 'etc/motd', true],
    ['a file_spec for another tree', 'file_spec: [/usr/lib/thing/**]\n', 'etc/thing/thing.conf', true],
    ['a glob matching only the directory', 'file_spec: [/etc/redis/]\n', 'etc/redis/redis.conf', true],
    ['a single-level glob one level too shallow', 'file_spec: ["/etc/*"]\n', 'etc/redis/redis.conf', true],
    ['the exact path', 'file_spec: [/etc/motd]\n', 'etc/motd', false],
    ['a recursive glob over its directory', 'file_spec: [/etc/redis/**]\n', 'etc/redis/redis.conf', false],
    ['a glob over everything', 'file_spec: ["/**"]\n', 'usr/lib/thing/deep/file', false],
    ['a wildcard in the name', 'file_spec: ["/etc/redis/*.conf"]\n', 'etc/redis/redis.conf', false],
  ];

  test.each(fileSpecCases)('%s: uncovered=%s', async (_label, fileSpec, file, uncovered) => {
    const result = await validateModuleDir(moduleDir(`${header}package_spec: [redis-server]\n${fileSpec}`, { [file]: 'x' }));
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
    const warnings = result.warnings.filter((w) => w.code === 'uncovered_rootfs_file');
    if (!uncovered) {
      expect(warnings).toEqual([]);
      return;
    }
    expect(warnings).toEqual([expect.objectContaining({ path: 'file_spec', file: `rootfs/${file}` })]);
    expect(warnings[0]?.message).toMatch(
      new RegExp(
        `^rootfs/${file.replace(/[.*]/g, '\\$&')} is not covered by any file_spec glob; it still ships .*add .+ to file_spec, or leave it to ship verbatim$`,
      ),
    );
  });

  test('the warning points at the file_spec key and says how to cover the file, or to leave it', async () => {
    const dir = moduleDir(`${header}package_spec: [redis-server]\nfile_spec:\n  - /etc/redis/**\n`, { 'etc/redis/redis.conf': 'x', 'etc/motd': 'hi' });
    const result = await validateModuleDir(dir);
    expect(result).toEqual({
      valid: true,
      errors: [],
      warnings: [
        {
          path: 'file_spec',
          code: 'uncovered_rootfs_file',
          line: 4,
          column: 1,
          file: 'rootfs/etc/motd',
          message:
            'rootfs/etc/motd is not covered by any file_spec glob; it still ships (rootfs/ is copied verbatim), but unclaimed, so conflict checks that read file_spec do not see it: add "/etc/motd" or a glob such as "/etc/**" to file_spec, or leave it to ship verbatim',
        },
      ],
    });
    expect(formatValidationReport(result)).toContain('manifest.yaml:4:1 warning file_spec: rootfs/etc/motd is not covered by any file_spec glob');
    expect(formatValidationReport(result)).toMatch(/manifest\.yaml: valid, 1 warning\n$/);
  });

  test('a glob matching only the directory is named, with the glob that would cover the file', async () => {
    const result = await validateModuleDir(moduleDir(`${header}package_spec: [redis-server]\nfile_spec: [/etc/redis/]\n`, { 'etc/redis/redis.conf': 'x' }));
    expect(result.warnings.map((w) => w.message)).toEqual([
      'rootfs/etc/redis/redis.conf is not covered by any file_spec glob; it still ships (rootfs/ is copied verbatim), but unclaimed, so conflict checks that read file_spec do not see it: add "/etc/redis/**" (file_spec[0] "/etc/redis/" matches the directory /etc/redis only, not what is inside) to file_spec, or leave it to ship verbatim',
    ]);
  });

  test('file_spec: [] with rootfs files and no packages warns once per file and nothing else', async () => {
    const result = await validateModuleDir(moduleDir(`${header}file_spec: []\n`, { 'etc/a.conf': 'a', 'etc/b/c.conf': 'c' }));
    expect(result.errors).toEqual([]);
    expect(result.warnings.map((w) => [w.code, w.file])).toEqual([
      ['uncovered_rootfs_file', 'rootfs/etc/a.conf'],
      ['uncovered_rootfs_file', 'rootfs/etc/b/c.conf'],
    ]);
  });
});

describe('validateModuleDir file checks', () => {
  test('a rootfs file excluded by mask is an error on that mask entry (it can never ship)', async () => {
    const dir = moduleDir(`${header}package_spec: [redis-server]\nfile_spec:\n  - /etc/redis/**\nmask:\n  - /etc/redis/sentinel.conf\n`, {
      'etc/redis/redis.conf': 'x',
      'etc/redis/sentinel.conf': 'x',
    });
    const result = await validateModuleDir(dir);
    expect(result.errors).toEqual([
      {
        path: 'mask[0]',
        code: 'masked_rootfs_file',
        line: 7,
        column: 5,
        file: 'rootfs/etc/redis/sentinel.conf',
        message:
          'rootfs/etc/redis/sentinel.conf is excluded by this mask entry and will never ship although file_spec[0] claims it; remove the file or narrow the mask',
      },
    ]);
  });

  test('a mask on a directory excludes the files below it', async () => {
    const dir = moduleDir(`${header}package_spec: [redis-server]\nfile_spec: [/var/log/**]\nmask: [/var/log/]\n`, { 'var/log/app/app.log': '' });
    const result = await validateModuleDir(dir);
    expect(result.errors.map((e) => [e.path, e.code, e.message])).toEqual([
      ['mask[0]', 'masked_rootfs_file', expect.stringContaining('(through its directory /var/log)')],
    ]);
  });

  test('.gitkeep placeholders only warn when masked; uncovered, they warn about their directory', async () => {
    const dir = moduleDir(`${header}package_spec: [redis-server]\nfile_spec: [/etc/redis/**]\nmask: [/var/log/**]\n`, {
      'etc/redis/redis.conf': 'x',
      'var/lib/redis/.gitkeep': '',
      'var/log/redis/.gitkeep': '',
    });
    const result = await validateModuleDir(dir);
    expect(result.valid).toBe(true);
    expect(result.warnings.map((w) => [w.path, w.code, w.file])).toEqual([
      ['file_spec', 'uncovered_rootfs_file', 'rootfs/var/lib/redis/.gitkeep'],
      ['mask[0]', 'masked_rootfs_file', 'rootfs/var/log/redis/.gitkeep'],
    ]);
    expect(result.warnings[0]?.message).toBe(
      'rootfs/var/lib/redis/.gitkeep is not covered by file_spec, so the directory /var/lib/redis ships unclaimed; add "/var/lib/redis/.gitkeep" or a glob such as "/var/lib/redis/**" to file_spec, or leave it: it only keeps the directory in git',
    );
  });

  test('file_spec entries matching nothing warn only when no package can provide them', async () => {
    const files = { 'etc/redis/redis.conf': 'x' };
    const withoutPackages = await validateModuleDir(moduleDir(`${header}file_spec: [/etc/redis/**, /usr/bin/redis-server]\n`, files));
    expect(withoutPackages.warnings.map((w) => [w.path, w.code, w.line])).toEqual([['file_spec[1]', 'unmatched_file_spec', 3]]);
    const withPackages = await validateModuleDir(
      moduleDir(`${header}package_spec: [redis-server]\nfile_spec: [/etc/redis/**, /usr/bin/redis-server]\n`, files),
    );
    expect(withPackages.warnings).toEqual([]);
  });

  test('a file_spec entry matching a directory of rootfs/ is not "unmatched"', async () => {
    const result = await validateModuleDir(moduleDir(`${header}file_spec: [/etc/redis/**, /etc/redis/]\n`, { 'etc/redis/redis.conf': 'x' }));
    expect(result).toEqual({ valid: true, errors: [], warnings: [] });
  });

  test('symlinks are checked for coverage like files, and not followed', async () => {
    const dir = moduleDir(`${header}package_spec: [redis-server]\nfile_spec: [/etc/redis/**]\n`, { 'etc/redis/redis.conf': 'x' });
    symlinkSync('/etc/redis/redis.conf', path.join(dir, 'rootfs/etc/redis/current.conf'));
    symlinkSync('/nonexistent', path.join(dir, 'rootfs/etc/dangling'));
    const result = await validateModuleDir(dir);
    expect(result.errors).toEqual([]);
    expect(result.warnings.map((w) => [w.code, w.file])).toEqual([['uncovered_rootfs_file', 'rootfs/etc/dangling']]);
  });

  test('special files in rootfs/ are refused', async () => {
    const dir = moduleDir(`${header}package_spec: [redis-server]\nfile_spec: [/run/**]\n`, { 'run/.gitkeep': '' });
    execFileSync('mkfifo', [path.join(dir, 'rootfs/run/control')]);
    const result = await validateModuleDir(dir);
    expect(result.errors).toEqual([
      {
        path: '',
        code: 'unsupported_file_type',
        line: 1,
        column: 1,
        file: 'rootfs/run/control',
        message: 'rootfs/run/control is a named pipe; rootfs/ may hold only regular files, directories and symlinks',
      },
    ]);
  });

  test('a module without rootfs/ is fine', async () => {
    expect(await validateModuleDir(moduleDir(`${header}package_spec: [redis-server]\nfile_spec: [/etc/x/**]\n`))).toEqual({
      valid: true,
      errors: [],
      warnings: [],
    });
  });

  test('a rootfs that is not a directory is an error', async () => {
    const dir = moduleDir(header);
    writeFileSync(path.join(dir, 'rootfs'), 'not a directory');
    const result = await validateModuleDir(dir);
    expect(result.errors.map((e) => [e.code, e.file])).toEqual([['rootfs_invalid', 'rootfs']]);
  });

  test('a missing manifest.yaml', async () => {
    const dir = moduleDir(undefined, { 'etc/x': 'x' });
    const result = await validateModuleDir(dir);
    expect(result.valid).toBe(false);
    expect(result.errors).toEqual([
      {
        path: '',
        code: 'manifest_missing',
        file: 'manifest.yaml',
        message: `${path.join(dir, 'manifest.yaml')} does not exist; a module repository has manifest.yaml at its root (powernode module init creates one)`,
      },
    ]);
  });

  test('broken YAML reports the syntax error only, not a flood of coverage errors', async () => {
    const dir = moduleDir('schema_version: 1\nname: [x\n', { 'etc/a': '', 'etc/b': '' });
    const result = await validateModuleDir(dir);
    expect(result.errors.map((e) => e.code)).toEqual(['yaml_syntax']);
  });

  test('schema errors and file findings are reported together', async () => {
    const dir = moduleDir('schema_version: 1\nname: My-Redis\nfile_spec: [/etc/redis/**]\nmask: [/etc/redis/sentinel.conf]\n', {
      'etc/redis/redis.conf': 'x',
      'etc/redis/sentinel.conf': 'x',
      'etc/other': 'x',
    });
    const result = await validateModuleDir(dir);
    expect(result.errors.map((e) => [e.path, e.code, e.line])).toEqual([
      ['name', 'invalid_value', 2],
      ['mask[0]', 'masked_rootfs_file', 4],
    ]);
    expect(result.warnings.map((w) => [w.path, w.code, w.line])).toEqual([['file_spec', 'uncovered_rootfs_file', 3]]);
  });

  test('a masked file that file_spec does not cover is one error, without advice to leave it to ship', async () => {
    const dir = moduleDir(`${header}package_spec: [redis-server]\nfile_spec: [/etc/redis/**]\nmask: [/var/log/**]\n`, {
      'etc/redis/redis.conf': 'x',
      'var/log/app.log': 'x',
    });
    const result = await validateModuleDir(dir);
    expect(result.errors.map((e) => [e.path, e.code, e.file])).toEqual([['mask[0]', 'masked_rootfs_file', 'rootfs/var/log/app.log']]);
    expect(result.warnings).toEqual([]);
  });
});

describe('set-id bits in rootfs/', () => {
  test('a setuid or setgid rootfs file is a warning naming it and the bit the build strips; plain modes and directories are not', async () => {
    const dir = moduleDir(`${header}file_spec: ["/**"]\n`, { 'usr/bin/helper': '#!/bin/sh\n', 'usr/bin/both': '#!/bin/sh\n', 'usr/bin/plain': '#!/bin/sh\n' });
    execFileSync('chmod', ['4755', path.join(dir, 'rootfs/usr/bin/helper')]);
    execFileSync('chmod', ['6755', path.join(dir, 'rootfs/usr/bin/both')]);
    execFileSync('chmod', ['0755', path.join(dir, 'rootfs/usr/bin/plain')]);
    execFileSync('chmod', ['2775', path.join(dir, 'rootfs/usr/bin')]);
    const result = await validateModuleDir(dir);
    expect(result.valid).toBe(true);
    expect(result.warnings).toEqual([
      expect.objectContaining({
        code: 'set_id_stripped',
        path: '',
        file: 'rootfs/usr/bin/both',
        message: expect.stringMatching(/^rootfs\/usr\/bin\/both has the setuid and setgid bit \(mode 6755\); .* stripped/),
      }),
      expect.objectContaining({
        code: 'set_id_stripped',
        path: '',
        file: 'rootfs/usr/bin/helper',
        message: expect.stringMatching(/^rootfs\/usr\/bin\/helper has the setuid bit \(mode 4755\); .*package_spec$/),
      }),
    ]);
    expect(formatValidationReport(result, { file: 'manifest.yaml' })).toContain('warning (manifest): rootfs/usr/bin/helper has the setuid bit');
  });
});
