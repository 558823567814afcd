import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { startPlatform, startRegistry, type TestPlatform, type TestRegistry } from '@powernode/testing';
import { REPO_ROOT, runCli } from './cli-process.test-support.js';

/*
 * Real modules of the reference platform, as their authors wrote them, published end to end: their Debian
 * packages installed on the base, rootfs/ shipped verbatim although `file_spec` is emptied, signed, pushed,
 * ingested as built and verified. One names a package Debian bookworm does not have: it fails with
 * package_unavailable and nothing reaches the registry. Needs root and mmdebstrap (CI installs it).
 */

const REFERENCE = process.env['POWERNODE_EXAMPLE_MODULES_DIR'] ?? path.resolve(REPO_ROOT, '../shared/reference/powernode-example-modules');
const canBuildPackages = process.getuid?.() === 0 && spawnSync('mmdebstrap', ['--version']).status === 0;
// In CI the reference folder must be there (a missing one fails below); a newcomer's clone may lack it.
const referencePresent = existsSync(REFERENCE) || process.env['CI'] !== undefined;
const describeBuilds = canBuildPackages && referencePresent ? describe : describe.skip;

let platform: TestPlatform;
let registry: TestRegistry;
let work: string;

async function api(method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${platform.url}/api/v1/system${p}`, {
    method,
    headers: { authorization: `Bearer ${platform.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** A copy of a reference module with `file_spec: []`: every rootfs/ file is then uncovered, and must still ship. */
async function withoutFileSpec(name: string): Promise<string> {
  const dir = path.join(work, name);
  await cp(path.join(REFERENCE, name), dir, { recursive: true });
  const manifest = parseYaml(await readFile(path.join(dir, 'manifest.yaml'), 'utf8')) as Record<string, unknown>;
  manifest['file_spec'] = [];
  await writeFile(path.join(dir, 'manifest.yaml'), stringifyYaml(manifest));
  return dir;
}

async function register(name: string): Promise<string> {
  const created = await api('POST', '/modules', {
    name,
    category: 'userland',
    variety: 'subscription',
    gitea_repo_full_name: `reference/${name}`,
    cosign_identity_regexp: 'https://powernode\\.dev/dev-signer',
    cosign_issuer_regexp: 'https://powernode\\.dev/dev-issuer',
  });
  expect(created.status).toBe(201);
  return created.body.webhook_secret as string;
}

function publish(dir: string, name: string, secret: string) {
  return runCli(
    [
      'module',
      'publish',
      dir,
      '--ref',
      `${registry.host}/reference/${name}:v1.0.0`,
      '--repo-full-name',
      `reference/${name}`,
      '--webhook-url',
      `${platform.url}/api/v1/system/webhooks/gitea/module`,
      '--webhook-secret',
      secret,
      '--dev',
      '--json',
    ],
    { env: { POWERNODE_DATA_DIR: platform.dataDir } },
  );
}

describeBuilds('reference modules published end to end', () => {
  beforeAll(async () => {
    if (!existsSync(REFERENCE))
      throw new Error(
        `the reference example modules are missing at ${REFERENCE}: check out the shared folder beside the repository or set POWERNODE_EXAMPLE_MODULES_DIR`,
      );
    registry = await startRegistry();
    platform = await startPlatform({ services: ['catalog', 'ingest', 'gateway'], env: { OCI_REGISTRY: registry.host, POWERNODE_DEV_SIGNING: 'true' } });
    work = await mkdtemp(path.join(tmpdir(), 'pn-reference-'));
  }, 180_000);

  afterAll(async () => {
    await platform?.stop();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it.each(['chrony', 'nginx'])(
    '%s with file_spec: [] ships its packages and its rootfs/ and is ingested as built and verified',
    async (name) => {
      const dir = await withoutFileSpec(name);
      const validated = await runCli(['module', 'validate', dir, '--json']);
      expect(validated.code).toBe(0);
      const report = JSON.parse(validated.stdout) as { valid: boolean; errors: unknown[]; warnings: Array<{ path: string; message: string }> };
      expect(report).toMatchObject({ valid: true, errors: [] });
      expect(report.warnings.length).toBeGreaterThan(0);

      const secret = await register(name);
      const published = await publish(dir, name, secret);
      expect({ code: published.code, stderr: published.code === 0 ? '' : published.stderr }).toEqual({ code: 0, stderr: '' });

      const deadline = Date.now() + 120_000;
      let versions: any[] = [];
      while (versions.length === 0 && Date.now() < deadline) {
        const res = await api('GET', `/modules/${name}/versions`);
        versions = res.status === 200 ? res.body.versions : [];
        if (versions.length === 0) await new Promise((r) => setTimeout(r, 250));
      }
      expect(versions[0]).toMatchObject({
        module_name: name,
        version_string: '1.0.0',
        promotion_state: 'built',
        cosign_verified: true,
        rejection_reason: null,
      });

      // The artifact holds the package's program with its real mode, and the rootfs/ files.
      const out = path.join(work, `${name}-layout`);
      const built = await runCli(['module', 'build', dir, '--out', out, '--json']);
      expect(built.code).toBe(0);
      const program = name === 'chrony' ? 'usr/sbin/chronyd' : 'usr/sbin/nginx';
      const listing = spawnSync('sh', ['-c', `for f in ${out}/blobs/sha256/*; do tar -tvf "$f" 2>/dev/null; done`], { encoding: 'utf8' }).stdout;
      expect(listing).toMatch(new RegExp(`-rwxr-xr-x root/root\\s+\\d+ .* ${program}\\n`));
      const rootfsFile = name === 'chrony' ? 'etc/chrony/chrony.conf' : 'etc/nginx/sites-available/';
      expect(listing).toContain(rootfsFile);
    },
    600_000,
  );

  it('refuses the reference system-base, which names a package bookworm lacks, with package_unavailable and pushes nothing', async () => {
    const secret = await register('system-base-reference');
    const dir = path.join(work, 'system-base');
    await cp(path.join(REFERENCE, 'system-base'), dir, { recursive: true });
    const manifest = parseYaml(await readFile(path.join(dir, 'manifest.yaml'), 'utf8')) as Record<string, unknown>;
    manifest['name'] = 'system-base-reference';
    await writeFile(path.join(dir, 'manifest.yaml'), stringifyYaml(manifest));
    const published = await publish(dir, 'system-base-reference', secret);
    expect(published.code).toBe(1);
    expect(published.stderr).toMatch(/debian\/bookworm has no package systemd-networkd/);
    const tags = await fetch(`http://${registry.host}/v2/reference/system-base-reference/tags/list`);
    expect(tags.status).toBe(404);
  }, 600_000);
});
