// `powernode module build` and `powernode module push`, run as the real CLI against a real registry
// (Debian docker-registry) and compared with the artifact library's own build.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildModuleArtifact, MODULE_ANNOTATIONS, MODULE_ARTIFACT_TYPE } from '@powernode/artifact';
import { OciClient, type ImageManifest } from '@powernode/oci';
import { CLOSED_LOOPBACK_PORT, htpasswdSkipReason, startRegistry, type TestRegistry } from '@powernode/testing';
import { runCli, temporaryDirectory, uniqueRepository } from './cli-process.test-support.js';
import { writeModule } from './module-fixture.test-support.js';

let dir: string;
let remove: () => Promise<void>;
let moduleDir: string;
let registry: TestRegistry;
let authRegistry: TestRegistry | undefined;
const htpasswdMissing = htpasswdSkipReason();

beforeAll(async () => {
  ({ dir, remove } = await temporaryDirectory('build'));
  moduleDir = await writeModule(path.join(dir, 'cache-module'), 'cache-module');
  [registry, authRegistry] = await Promise.all([startRegistry(), htpasswdMissing === undefined ? startRegistry({ auth: 'htpasswd' }) : undefined]);
});

afterAll(async () => {
  await Promise.all([registry?.stop(), authRegistry?.stop()]);
  await remove();
});

describe('powernode module build', () => {
  test('prints the manifest digest, composefs digest and fs-verity root hash the artifact library computes', async () => {
    const expected = await buildModuleArtifact({ dir: moduleDir, version: '1.4.0', sourceDateEpoch: 0 });
    await expected.dispose();
    const result = await runCli(['module', 'build', moduleDir, '--version', 'v1.4.0']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`manifest digest    ${expected.manifestDigest}\n`);
    expect(result.stdout).toContain(`composefs digest   ${expected.composefsDigest}\n`);
    expect(result.stdout).toContain(`fs-verity root     ${expected.rootHash}\n`);
    expect(result.stdout).toContain('module             cache-module 1.4.0\n');
    // Progress goes to stderr, never into the result.
    expect(result.stderr).toMatch(/read module tree: \d+ entries/);
    expect(result.stdout).not.toMatch(/read module tree/);
  });

  test('--json prints the digests; the same inputs give the same manifest digest on every build', async () => {
    const [first, second] = await Promise.all([runCli(['module', 'build', moduleDir, '--json', '-q']), runCli(['module', 'build', moduleDir, '--json', '-q'])]);
    expect(first.code).toBe(0);
    expect(first.stderr).toBe('');
    const a = JSON.parse(first.stdout) as Record<string, unknown>;
    const b = JSON.parse(second.stdout) as Record<string, unknown>;
    expect(a).toMatchObject({ module_name: 'cache-module', version: null, layout_dir: null });
    expect(a['manifest_digest']).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(a['fsverity_root_hash']).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b).toEqual(a);
  });

  test('--out writes an OCI image layout whose index points at the manifest with every blob present', async () => {
    const out = path.join(dir, 'layout');
    const result = await runCli(['module', 'build', moduleDir, '--out', out, '--json', '--version', '2.0.0']);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as { manifest_digest: string; layout_dir: string };
    expect(printed.layout_dir).toBe(out);
    expect(JSON.parse(await readFile(path.join(out, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(await readFile(path.join(out, 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string; annotations: Record<string, string> }>;
    };
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]).toMatchObject({ digest: printed.manifest_digest, annotations: { 'org.opencontainers.image.ref.name': '2.0.0' } });
    const blob = (digest: string): string => path.join(out, 'blobs', 'sha256', digest.slice('sha256:'.length));
    const manifest = JSON.parse(await readFile(blob(printed.manifest_digest), 'utf8')) as ImageManifest;
    expect(manifest.artifactType).toBe(MODULE_ARTIFACT_TYPE);
    for (const descriptor of [manifest.config, ...manifest.layers]) expect((await readFile(blob(descriptor.digest))).length).toBe(descriptor.size);
  });

  test('an invalid module is refused with its validation report (exit 1) and nothing is built', async () => {
    const broken = await writeModule(path.join(dir, 'broken'), 'broken');
    // A file file_spec claims but mask excludes: it would never ship.
    await writeFile(path.join(broken, 'rootfs', 'etc', 'broken', 'leftover.bak'), 'masked\n');
    const out = path.join(dir, 'broken-layout');
    const result = await runCli(['module', 'build', broken, '--out', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/error mask\[0\]: rootfs\/etc\/broken\/leftover\.bak is excluded by this mask entry/);
    expect(result.stdout).toBe('');
    await expect(readFile(path.join(out, 'index.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a version that is not semver is refused (exit 1)', async () => {
    const result = await runCli(['module', 'build', moduleDir, '--version', 'latest']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/module version "latest" is not a semantic version/);
  });
});

describe('powernode module push', () => {
  test('builds and pushes; the registry holds the manifest under the tag with the module annotations', async () => {
    const repository = uniqueRepository('push');
    const ref = `${registry.host}/${repository}:v0.3.1`;
    const result = await runCli(['module', 'push', moduleDir, '--ref', ref, '--json']);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as Record<string, string>;
    expect(printed['digest']).toBe(printed['manifest_digest']);
    expect(printed['artifact']).toBe(`${ref}@${printed['digest']}`);
    expect(printed['version']).toBe('0.3.1');
    expect(result.stderr).toMatch(/pushed manifest/);

    const client = new OciClient({ registry: registry.host, insecure: true });
    const pulled = await client.getManifest(repository, 'v0.3.1');
    expect(pulled.digest).toBe(printed['digest']);
    const manifest = pulled.manifest as ImageManifest;
    expect(manifest.annotations).toMatchObject({
      [MODULE_ANNOTATIONS.name]: 'cache-module',
      [MODULE_ANNOTATIONS.version]: '0.3.1',
      [MODULE_ANNOTATIONS.fsverityRootHash]: printed['fsverity_root_hash'],
      [MODULE_ANNOTATIONS.composefsDigest]: printed['composefs_digest'],
    });
    for (const layer of manifest.layers) expect(await client.blobExists(repository, layer.digest)).toBe(true);
  });

  test('prints <ref>@<digest> on stdout and reads the reference from POWERNODE_MODULE_REF', async () => {
    const ref = `${registry.host}/${uniqueRepository('env-ref')}:v1.0.0`;
    const result = await runCli(['module', 'push', moduleDir, '-q'], { env: { POWERNODE_MODULE_REF: ref } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^${ref.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}@sha256:[0-9a-f]{64}\\n$`));
  });

  test('a malformed reference is refused (exit 1) before anything is built', async () => {
    const result = await runCli(['module', 'push', moduleDir, '--ref', `${registry.host}/Upper/Case:v1`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/OCI reference .* is invalid: repository "Upper\/Case" must be lowercase/);
    expect(result.stderr).not.toMatch(/building/);
  });

  test('without --ref (and no POWERNODE_MODULE_REF) it is a usage error (exit 2)', async () => {
    const result = await runCli(['module', 'push', moduleDir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--ref <registry>\/<path>:<tag> is required/);
  });

  test('a registry that is down is reported with exit 1 and the address it tried', async () => {
    const port = CLOSED_LOOPBACK_PORT;
    const result = await runCli(['module', 'push', moduleDir, '--ref', `127.0.0.1:${port}/acme/down:v1.0.0`, '--json', '-q']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`registry http://127\\.0\\.0\\.1:${port} unreachable`));
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'registry_unreachable' } });
  });

  (htpasswdMissing === undefined ? test : test.skip)(
    `a registry that needs credentials refuses an anonymous push (exit 1) and accepts the env credentials${htpasswdMissing === undefined ? '' : ` (skipped: ${htpasswdMissing})`}`,
    async () => {
      const ref = `${authRegistry!.host}/${uniqueRepository('auth')}:v1.0.0`;
      const anonymous = await runCli(['module', 'push', moduleDir, '--ref', ref, '-q']);
      expect(anonymous.code).toBe(1);
      expect(anonymous.stderr).toMatch(/the registry requires a username and password; give registry credentials with --registry-username/);
      const { username, password } = authRegistry!.credentials!;
      const withCredentials = await runCli(['module', 'push', moduleDir, '--ref', ref, '-q'], {
        env: { POWERNODE_REGISTRY_USERNAME: username, POWERNODE_REGISTRY_PASSWORD: password },
      });
      expect(withCredentials.code).toBe(0);
      expect(withCredentials.stdout).toMatch(/@sha256:[0-9a-f]{64}\n$/);
    },
  );

  test('a user without a password is a usage error (exit 2)', async () => {
    const result = await runCli(['module', 'push', moduleDir, '--ref', `${registry.host}/acme/x:v1.0.0`, '--registry-username', 'someone']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/need both --registry-username and --registry-password/);
  });
});
