import { ModuleManifestSchema } from '@powernode/contracts';
import { compileGlob } from '@powernode/globs';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { validateManifestYaml, validateModuleDir } from './index.js';
import { findReferenceModules, KNOWN_REFERENCE_MANIFESTS, REFERENCE_MODULES_DIR, referenceModulesSkipReason } from './reference-modules.test-support.js';

// Every module the reference platform ships must pass `powernode module validate`: the validator is wrong, not
// the reference, when one of them is refused. These tests read the whole reference on purpose, so nothing is
// vendored: a clone without it skips them with the reason in the title; in CI a missing folder fails the
// suite at collection time.
const skipReason = referenceModulesSkipReason();
const reference = skipReason === undefined ? findReferenceModules() : { manifests: [], moduleDirs: [] };
const describeReference = skipReason === undefined ? describe : describe.skip;
const titled = (title: string): string => (skipReason === undefined ? title : `${title} (skipped: ${skipReason})`);

/** The module paths of regular files and symlinks under `rootfs/`, sorted (`/etc/chrony/chrony.conf`). */
function rootfsFiles(moduleDir: string): string[] {
  const files: string[] = [];
  const walk = (dir: string, modulePath: string): void => {
    for (const child of readdirSync(dir, { withFileTypes: true })) {
      if (child.isDirectory()) walk(path.join(dir, child.name), `${modulePath}/${child.name}`);
      else files.push(`${modulePath}/${child.name}`);
    }
  };
  try {
    walk(path.join(moduleDir, 'rootfs'), '');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return files.sort();
}

/** The rootfs files no file_spec glob matches, read straight from the manifest (masked files never ship, so they are not counted). */
function expectedUncovered(moduleDir: string): string[] {
  const manifest = parse(readFileSync(path.join(moduleDir, 'manifest.yaml'), 'utf8')) as { file_spec?: string[]; mask?: string[] };
  const fileSpec = (manifest.file_spec ?? []).map((glob) => compileGlob(glob));
  const mask = (manifest.mask ?? []).map((glob) => compileGlob(glob));
  return rootfsFiles(moduleDir)
    .filter((file) => {
      const parts = file.split('/').slice(1, -1);
      const dirs = parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
      return !mask.some((glob) => glob.match(file, false) || dirs.some((dir) => glob.match(dir, true)));
    })
    .filter((file) => !fileSpec.some((glob) => glob.match(file, false)))
    .map((file) => `rootfs${file}`);
}

describeReference(titled('the reference example modules'), () => {
  test('are all present (a partial checkout must not pass as a smaller reference)', () => {
    expect(reference.manifests).toEqual(expect.arrayContaining([...KNOWN_REFERENCE_MANIFESTS]));
    expect(reference.moduleDirs.length).toBeGreaterThan(0);
  });

  test.each(reference.manifests)('manifest %s validates without errors, and the contracts schema accepts it', (manifest) => {
    const text = readFileSync(path.join(REFERENCE_MODULES_DIR, manifest), 'utf8');
    const result = validateManifestYaml(text);
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
    // Checked apart from the validator so a refusal by the shared schema is told apart from one by our checks.
    expect(ModuleManifestSchema.safeParse(parse(text)).error?.issues).toBeUndefined();
  });

  test.each(reference.moduleDirs)('module directory %s validates without errors; each rootfs file file_spec does not cover is a warning', async (dir) => {
    const moduleDir = path.join(REFERENCE_MODULES_DIR, dir);
    const result = await validateModuleDir(moduleDir);
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
    const uncovered = result.warnings.filter((warning) => warning.code === 'uncovered_rootfs_file');
    expect(uncovered.map((warning) => warning.file).sort()).toEqual(expectedUncovered(moduleDir));
    for (const warning of uncovered) expect(warning.message).toContain(`${warning.file} is not covered`);
  });
});

describeReference(titled('a reference module whose file_spec claims none of its rootfs files'), () => {
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'manifest-reference-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test.each(reference.moduleDirs.filter((dir) => rootfsFiles(path.join(REFERENCE_MODULES_DIR, dir)).length > 0))(
    '%s with file_spec: [] still validates, with one warning per rootfs file',
    async (dir) => {
      const source = path.join(REFERENCE_MODULES_DIR, dir);
      const copy = path.join(scratch, dir);
      // Files are copied by content: the reference checkout is read-only, and its modes would block cleanup.
      for (const file of rootfsFiles(source)) {
        mkdirSync(path.dirname(path.join(copy, 'rootfs', file)), { recursive: true });
        writeFileSync(path.join(copy, 'rootfs', file), readFileSync(path.join(source, 'rootfs', file)));
      }
      const manifest = readFileSync(path.join(source, 'manifest.yaml'), 'utf8').replace(/^file_spec:\n(?:[ \t]+-.*\n|[ \t]*#.*\n)*/m, 'file_spec: []\n');
      writeFileSync(path.join(copy, 'manifest.yaml'), manifest);

      const result = await validateModuleDir(copy);
      expect(result.errors).toEqual([]);
      const expected = expectedUncovered(copy);
      expect(expected).not.toEqual([]);
      expect(
        result.warnings
          .filter((w) => w.code === 'uncovered_rootfs_file')
          .map((w) => w.file)
          .sort(),
      ).toEqual(expected);
    },
  );
});
