import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPlatform, startRegistry, type TestPlatform, type TestRegistry } from '@powernode/testing';
import { REPO_ROOT, runCli } from './cli-process.test-support.js';

/**
 * The tutorial's supply chain for real: module init → edit → validate → publish --dev to the local registry
 * with the webhook to the running gateway → the version appears built, verified, with both digests.
 */
/** The tutorial's manifest, as shipped with the example module. */
const TUTORIAL_MANIFEST = readFileSync(path.join(REPO_ROOT, 'examples/my-redis/manifest.yaml'), 'utf8');

let platform: TestPlatform;
let registry: TestRegistry;
let work: string;

async function api(method: string, p: string, body?: unknown) {
  const res = await fetch(`${platform.url}/api/v1/system${p}`, {
    method,
    headers: { authorization: `Bearer ${platform.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function versionsOf(module: string, until: (versions: any[]) => boolean): Promise<any[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await api('GET', `/modules/${module}/versions`);
    if (res.status === 200 && until(res.body.versions)) return res.body.versions;
    if (Date.now() > deadline) throw new Error(`versions of ${module} never satisfied the condition: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  registry = await startRegistry();
  platform = await startPlatform({ services: ['catalog', 'ingest', 'gateway'], env: { OCI_REGISTRY: registry.host, POWERNODE_DEV_SIGNING: 'true' } });
  work = await mkdtemp(path.join(tmpdir(), 'pn-e2e-'));
}, 180_000);

afterAll(async () => {
  await platform?.stop();
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('supply chain end to end', () => {
  it('publishes a module with dev signing and the platform ingests it as a verified, built version', async () => {
    const dir = path.join(work, 'my-redis-module');
    const init = await runCli(['module', 'init', dir, '--name', 'my-redis']);
    expect(init.code).toBe(0);

    // Step 2–3 of the tutorial: edit the manifest and add the rootfs tree.
    await writeFile(path.join(dir, 'manifest.yaml'), TUTORIAL_MANIFEST);
    await mkdir(path.join(dir, 'rootfs/etc/redis'), { recursive: true });
    await mkdir(path.join(dir, 'rootfs/var/lib/redis'), { recursive: true });
    await writeFile(path.join(dir, 'rootfs/var/lib/redis/.gitkeep'), '');
    await unlink(path.join(dir, 'rootfs/.gitkeep'));
    await writeFile(path.join(dir, 'rootfs/etc/redis/redis.conf'), 'bind 0.0.0.0 ::\nport 6379\nappendonly yes\ndir /var/lib/redis\n');
    const validated = await runCli(['module', 'validate', dir, '--json']);
    expect(validated.code).toBe(0);
    expect(JSON.parse(validated.stdout).valid).toBe(true);

    const created = await api('POST', '/modules', {
      name: 'my-redis',
      category: 'userland',
      variety: 'subscription',
      gitea_repo_full_name: 'acme/modules/my-redis-module',
      cosign_identity_regexp: 'https://powernode\\.dev/dev-signer',
      cosign_issuer_regexp: 'https://powernode\\.dev/dev-issuer',
    });
    expect(created.status).toBe(201);

    // This exercises signing and ingest; installing package_spec is covered by libs/debian-build's own tests.
    const published = await runCli(
      [
        'module',
        'publish',
        dir,
        '--ref',
        `${registry.host}/acme/modules/my-redis-module:v0.1.0`,
        '--repo-full-name',
        'acme/modules/my-redis-module',
        '--webhook-url',
        `${platform.url}/api/v1/system/webhooks/gitea/module`,
        '--webhook-secret',
        created.body.webhook_secret,
        '--dev',
      ],
      { env: { POWERNODE_DATA_DIR: platform.dataDir, POWERNODE_SKIP_PACKAGES: '1' } },
    );
    expect(published.code).toBe(0);

    const [version] = await versionsOf('my-redis', (v) => v.length === 1);
    expect(version).toMatchObject({
      module_name: 'my-redis',
      version_string: '0.1.0',
      promotion_state: 'built',
      cosign_verified: true,
      rejection_reason: null,
    });
    expect(version.composefs_digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(version.fsverity_root_hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(version.oci_digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(version.signer_identity).toBe('https://powernode.dev/dev-signer');

    // The same tag published again (same content) is one version, not two.
    const again = await runCli(
      [
        'module',
        'publish',
        dir,
        '--ref',
        `${registry.host}/acme/modules/my-redis-module:v0.1.0`,
        '--repo-full-name',
        'acme/modules/my-redis-module',
        '--webhook-url',
        `${platform.url}/api/v1/system/webhooks/gitea/module`,
        '--webhook-secret',
        created.body.webhook_secret,
        '--dev',
      ],
      { env: { POWERNODE_DATA_DIR: platform.dataDir, POWERNODE_SKIP_PACKAGES: '1' } },
    );
    expect(again.code).toBe(0);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await versionsOf('my-redis', () => true)).toHaveLength(1);
  }, 240_000);

  it('records a signature from an identity the policy does not match as cosign_verified: false', async () => {
    const dir = path.join(work, 'other-module');
    expect((await runCli(['module', 'init', dir, '--name', 'other-module'])).code).toBe(0);
    const created = await api('POST', '/modules', {
      name: 'other-module',
      category: 'userland',
      variety: 'subscription',
      gitea_repo_full_name: 'acme/other-module',
      cosign_identity_regexp: 'user@example\\.com',
      cosign_issuer_regexp: 'https://powernode\\.dev/dev-issuer',
    });
    const published = await runCli(
      [
        'module',
        'publish',
        dir,
        '--ref',
        `${registry.host}/acme/other-module:v1.0.0`,
        '--repo-full-name',
        'acme/other-module',
        '--webhook-url',
        `${platform.url}/api/v1/system/webhooks/gitea/module`,
        '--webhook-secret',
        created.body.webhook_secret,
        '--dev',
        '--dev-identity',
        'evil-user@example.com',
      ],
      { env: { POWERNODE_DATA_DIR: platform.dataDir, POWERNODE_SKIP_PACKAGES: '1' } },
    );
    expect(published.code).toBe(0);
    const [version] = await versionsOf('other-module', (v) => v.length === 1);
    expect(version.cosign_verified).toBe(false);
    expect(version.rejection_reason).toMatch(/identity/);
    const promote = await api('POST', `/module-versions/${version.id}/promote`, { to: 'staging' });
    expect(promote.status).toBe(409);
    expect(promote.body.code).toBe('unverified_signature');
  }, 240_000);
});
