import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatValidationReport, validateModuleDir } from './index.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test/fixtures');
const examples = readdirSync(path.join(fixtures, 'example-modules'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

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

describe('validateModuleDir on the reference platform example modules', () => {
  test.each(examples)('%s has no errors', async (name) => {
    const result = await validateModuleDir(path.join(fixtures, 'example-modules', name));
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
    // Only rpi4-firmware ships nothing from rootfs/ or packages: its firmware comes from the Containerfile.
    expect(result.warnings.map((w) => [w.path, w.code])).toEqual(name === 'rpi4-firmware' ? [['file_spec[0]', 'unmatched_file_spec']] : []);
  });

  test('the tutorial module (with its .gitkeep listed in file_spec) is clean', async () => {
    expect(await validateModuleDir(path.join(fixtures, 'tutorial-my-redis'))).toEqual({ valid: true, errors: [], warnings: [] });
  });
});

describe('validateModuleDir file checks', () => {
  test('a rootfs file no file_spec entry covers is an error pointing at file_spec', async () => {
    const dir = moduleDir(`${header}package_spec: [redis-server]\nfile_spec:\n  - /etc/redis/**\n`, { 'etc/redis/redis.conf': 'x', 'etc/motd': 'hi' });
    const result = await validateModuleDir(dir);
    expect(result.errors).toEqual([
      {
        path: 'file_spec',
        code: 'uncovered_rootfs_file',
        line: 4,
        column: 1,
        file: 'rootfs/etc/motd',
        message: 'rootfs/etc/motd is not covered by any file_spec entry; file_spec lists every path the module owns (add "/etc/motd" or a glob such as "/etc/**")',
      },
    ]);
    expect(formatValidationReport(result)).toContain('manifest.yaml:4:1 error file_spec: rootfs/etc/motd is not covered by any file_spec entry');
  });

  test('a glob matching only the directory does not cover its files, and says so', async () => {
    const dir = moduleDir(`${header}package_spec: [redis-server]\nfile_spec: [/etc/redis/]\n`, { 'etc/redis/redis.conf': 'x' });
    const result = await validateModuleDir(dir);
    expect(result.errors.map((e) => e.message)).toEqual([
      'rootfs/etc/redis/redis.conf is not covered by any file_spec entry; file_spec lists every path the module owns (file_spec[0] "/etc/redis/" matches the directory /etc/redis only; write "/etc/redis/**" to cover what is inside)',
    ]);
  });

  test('a rootfs file excluded by mask is an error on that mask entry', async () => {
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
        message: 'rootfs/etc/redis/sentinel.conf is excluded by this mask entry and will never ship although file_spec[0] claims it; remove the file or narrow the mask',
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

  test('.gitkeep placeholders only warn when uncovered or masked', async () => {
    const dir = moduleDir(`${header}package_spec: [redis-server]\nfile_spec: [/etc/redis/**]\nmask: [/var/log/**]\n`, {
      'etc/redis/redis.conf': 'x',
      'var/lib/redis/.gitkeep': '',
      'var/log/redis/.gitkeep': '',
    });
    const result = await validateModuleDir(dir);
    expect(result.valid).toBe(true);
    expect(result.warnings.map((w) => [w.path, w.code, w.file])).toEqual([
      ['file_spec', 'uncovered_rootfs_file', 'rootfs/var/lib/redis/.gitkeep'],
      ['file_spec', 'uncovered_rootfs_file', 'rootfs/var/log/redis/.gitkeep'],
      ['mask[0]', 'masked_rootfs_file', 'rootfs/var/log/redis/.gitkeep'],
    ]);
    expect(result.warnings[0]?.message).toBe(
      'rootfs/var/lib/redis/.gitkeep is not covered by file_spec, so the directory /var/lib/redis ships unclaimed; add "/var/lib/redis/.gitkeep" (or a glob over /var/lib/redis) to file_spec',
    );
  });

  test('file_spec entries matching nothing warn only when no package can provide them', async () => {
    const files = { 'etc/redis/redis.conf': 'x' };
    const withoutPackages = await validateModuleDir(moduleDir(`${header}file_spec: [/etc/redis/**, /usr/bin/redis-server]\n`, files));
    expect(withoutPackages.warnings.map((w) => [w.path, w.code, w.line])).toEqual([['file_spec[1]', 'unmatched_file_spec', 3]]);
    const withPackages = await validateModuleDir(moduleDir(`${header}package_spec: [redis-server]\nfile_spec: [/etc/redis/**, /usr/bin/redis-server]\n`, files));
    expect(withPackages.warnings).toEqual([]);
  });

  test('a file_spec entry matching a directory of rootfs/ is not "unmatched"', async () => {
    const result = await validateModuleDir(moduleDir(`${header}file_spec: [/etc/redis/**, /etc/redis/]\n`, { 'etc/redis/redis.conf': 'x' }));
    expect(result).toEqual({ valid: true, errors: [], warnings: [] });
  });

  test('symlinks are checked like files and not followed', async () => {
    const dir = moduleDir(`${header}package_spec: [redis-server]\nfile_spec: [/etc/redis/**]\n`, { 'etc/redis/redis.conf': 'x' });
    symlinkSync('/etc/redis/redis.conf', path.join(dir, 'rootfs/etc/redis/current.conf'));
    symlinkSync('/nonexistent', path.join(dir, 'rootfs/etc/dangling'));
    const result = await validateModuleDir(dir);
    expect(result.errors.map((e) => e.file)).toEqual(['rootfs/etc/dangling']);
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
    expect(await validateModuleDir(moduleDir(`${header}package_spec: [redis-server]\nfile_spec: [/etc/x/**]\n`))).toEqual({ valid: true, errors: [], warnings: [] });
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

  test('schema errors and file errors are reported together', async () => {
    const dir = moduleDir('schema_version: 1\nname: My-Redis\nfile_spec: [/etc/redis/**]\n', { 'etc/redis/redis.conf': 'x', 'etc/other': 'x' });
    const result = await validateModuleDir(dir);
    expect(result.errors.map((e) => [e.path, e.code, e.line])).toEqual([
      ['name', 'invalid_value', 2],
      ['file_spec', 'uncovered_rootfs_file', 3],
    ]);
  });
});
