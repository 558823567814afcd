// `powernode module init` and `powernode module validate`, run as the real CLI on temporary directories.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { validateModuleDir } from '@powernode/manifest';
import { runCli, temporaryDirectory } from './cli-process.test-support.js';

let dir: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  ({ dir, remove } = await temporaryDirectory('init'));
});

afterAll(async () => {
  await remove();
});

async function listFiles(root: string, relative = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, relative), { withFileTypes: true })) {
    const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(root, child)));
    else out.push(child);
  }
  return out.sort();
}

interface Workflow {
  on: { push: { tags: string[] } };
  permissions: Record<string, string>;
  jobs: Record<string, { 'runs-on': string; steps: Array<{ name?: string; run?: string; uses?: string; env?: Record<string, string> }> }>;
}

describe('powernode module init', () => {
  test('writes the canonical module repository, named after --name', async () => {
    const target = path.join(dir, 'redis-repo');
    const result = await runCli(['module', 'init', target, '--name', 'my-redis']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`created module my-redis in ${target}`);
    expect(await listFiles(target)).toEqual([
      '.gitea/workflows/build.yaml',
      '.github/workflows/build.yaml',
      'Containerfile',
      'manifest.yaml',
      'rootfs/.gitkeep',
    ]);
    const manifest = parse(await readFile(path.join(target, 'manifest.yaml'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ schema_version: 1, name: 'my-redis', display_name: 'My Redis', file_spec: ['/etc/my-redis/**', '/usr/lib/my-redis/**'] });
    const containerfile = await readFile(path.join(target, 'Containerfile'), 'utf8');
    expect(containerfile).toMatch(/^FROM \$\{UBUNTU_IMAGE\}$/m);
    expect(containerfile).toMatch(/^COPY rootfs\/ \/$/m);
  });

  test('the generated module passes validateModuleDir (no errors; only the rootfs/.gitkeep placeholder is noted)', async () => {
    const target = path.join(dir, 'validates');
    expect((await runCli(['module', 'init', target, '--name', 'fresh-module'])).code).toBe(0);
    const result = await validateModuleDir(target);
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
    // The only thing a fresh repository may be told about is its rootfs/.gitkeep placeholder.
    expect(result.warnings.filter((w) => w.file !== 'rootfs/.gitkeep')).toEqual([]);
    const cli = await runCli(['module', 'validate', target]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/manifest\.yaml: valid/);
  });

  test.each([
    ['.gitea/workflows/build.yaml', 'Gitea Actions'],
    ['.github/workflows/build.yaml', 'GitHub Actions'],
  ])('%s (%s) publishes on a version tag with id-token: write, calling powernode module publish', async (file) => {
    const target = path.join(dir, `wf-${file.startsWith('.gitea') ? 'gitea' : 'github'}`);
    expect((await runCli(['module', 'init', target, '--name', 'wf-module'])).code).toBe(0);
    const text = await readFile(path.join(target, file), 'utf8');
    const workflow = parse(text) as Workflow;
    expect(workflow.on.push.tags).toEqual(['v*.*.*']);
    expect(workflow.permissions['id-token']).toBe('write');
    const steps = Object.values(workflow.jobs)[0]!.steps;
    const publish = steps.find((step) => step.run?.includes('module publish'));
    expect(publish).toBeDefined();
    const run = publish!.run!;
    expect(run).toContain('npx powernode module publish "$PWD"');
    for (const flag of ['--ref', '--repo-full-name', '--webhook-url', '--webhook-secret', '--keyless']) expect(run).toContain(flag);
    expect(run).toContain('--webhook-secret "${{ secrets.POWERNODE_WEBHOOK_SECRET }}"');
    expect(run).toContain('$GITHUB_REF_NAME');
    // The CLI is installed before it is used, and the manifest is validated first.
    const install = steps.findIndex((step) => step.run?.includes('npm install'));
    const validate = steps.findIndex((step) => step.run?.includes('module validate'));
    expect(install).toBeGreaterThanOrEqual(0);
    expect(install).toBeLessThan(validate);
    expect(validate).toBeLessThan(steps.indexOf(publish!));
  });

  test('takes the module name from the directory name when --name is absent', async () => {
    const target = path.join(dir, 'nginx-proxy');
    const result = await runCli(['module', 'init', target, '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ name: 'nginx-proxy', files: expect.arrayContaining(['manifest.yaml', 'rootfs/.gitkeep']) });
    expect(await readFile(path.join(target, 'manifest.yaml'), 'utf8')).toMatch(/^name: nginx-proxy$/m);
  });

  test('refuses a non-empty directory (exit 1) and leaves its files alone; --force writes the template into it', async () => {
    const target = path.join(dir, 'occupied');
    await mkdir(target);
    await writeFile(path.join(target, 'notes.txt'), 'keep me');
    const refused = await runCli(['module', 'init', target, '--name', 'occupied']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is not empty .*notes\.txt.*--force/);
    expect(await listFiles(target)).toEqual(['notes.txt']);

    const forced = await runCli(['module', 'init', target, '--name', 'occupied', '--force']);
    expect(forced.code).toBe(0);
    expect(await listFiles(target)).toContain('manifest.yaml');
    expect(await readFile(path.join(target, 'notes.txt'), 'utf8')).toBe('keep me');
  });

  test('an invalid --name is refused (exit 1); an unusable directory name without --name is a usage error (exit 2)', async () => {
    const bad = await runCli(['module', 'init', path.join(dir, 'bad-name'), '--name', 'Bad_Name']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/module name "Bad_Name" is invalid/);
    const unusable = await runCli(['module', 'init', path.join(dir, 'Upper_Case')]);
    expect(unusable.code).toBe(2);
    expect(unusable.stderr).toMatch(/pass --name/);
  });
});

describe('powernode module validate', () => {
  test('reports errors as <file>:<line>:<col> <severity> <path>: <message> and exits 1', async () => {
    const target = path.join(dir, 'invalid');
    await mkdir(path.join(target, 'rootfs', 'etc', 'thing'), { recursive: true });
    await writeFile(path.join(target, 'rootfs', 'etc', 'thing', 'thing.conf'), 'x=1\n');
    await writeFile(path.join(target, 'manifest.yaml'), 'schema_version: 1\nname: thing\nfile_spec:\n  - "/usr/lib/thing/**"\nbogus_key: 1\n');
    const result = await runCli(['module', 'validate', target]);
    expect(result.code).toBe(1);
    const manifestPath = path.join(target, 'manifest.yaml');
    expect(result.stdout).toContain(`${manifestPath}:5:1 error bogus_key:`);
    // rootfs/ ships verbatim: a file file_spec does not cover is a warning, not an error.
    expect(result.stdout).toMatch(/warning file_spec: rootfs\/etc\/thing\/thing\.conf is not covered/);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toMatch(/manifest\.yaml: invalid, \d+ errors?/);
  });

  test('--json prints exactly the system_validate_module_manifest object of validateModuleDir', async () => {
    const target = path.join(dir, 'invalid');
    const result = await runCli(['module', 'validate', target, '--json']);
    expect(result.code).toBe(1);
    const printed = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(printed).sort()).toEqual(['errors', 'valid', 'warnings']);
    expect(printed).toEqual(JSON.parse(JSON.stringify(await validateModuleDir(target))));
    expect(printed['valid']).toBe(false);
  });

  test('warnings alone exit 0', async () => {
    const target = path.join(dir, 'warnings-only');
    await mkdir(path.join(target, 'rootfs'), { recursive: true });
    await writeFile(path.join(target, 'manifest.yaml'), 'schema_version: 1\nname: warn\nfile_spec:\n  - "/etc/warn/**"\n');
    const result = await runCli(['module', 'validate', target, '--json']);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as { valid: boolean; warnings: Array<{ code: string }> };
    expect(printed.valid).toBe(true);
    expect(printed.warnings.map((w) => w.code)).toEqual(['unmatched_file_spec']);
  });

  test('a directory without manifest.yaml is invalid (exit 1); no directory argument is a usage error (exit 2)', async () => {
    const missing = await runCli(['module', 'validate', path.join(dir, 'does-not-exist')]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/manifest\.yaml does not exist/);
    const usage = await runCli(['module', 'validate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/missing required argument 'dir'/);
  });
});
