import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isPowernodeError } from '@powernode/contracts';
import { fsverityDigestOfBuffer } from '@powernode/fsverity';
import { OCI_MANIFEST_MEDIA_TYPE, OciClient, canonicalJsonBytes, sha256Digest, type ImageManifest } from '@powernode/oci';
import { startRegistry, type TestRegistry } from '@powernode/testing';
import { COMPOSEFS_DESCRIPTION_MEDIA_TYPE, MODULE_ANNOTATIONS, MODULE_TREE_LAYER_MEDIA_TYPE } from './artifact-media-types.js';
import type { ArtifactProgressStep } from './artifact-progress.js';
import { formatComposefsDescription, parseComposefsDescription } from './composefs-description.js';
import { buildModuleArtifact, type BuiltModuleArtifact } from './module-artifact-build.js';
import { pullModuleArtifact } from './module-artifact-pull.js';
import { pushModuleArtifact } from './module-artifact-push.js';
import { freshDir, writeMyRedisModule } from './module-fixture.test-support.js';
import { readModuleTree } from './module-tree.js';
import { reproducibleTar } from './tar-writer.js';

let registry: TestRegistry;
let client: OciClient;
let workDir: string;
let moduleDir: string;
let built: BuiltModuleArtifact;

/** A repository name no other test uses. */
const repo = (what: string): string => `test/${what}-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  registry = await startRegistry();
  client = new OciClient({ registry: registry.host, insecure: true, retries: 1, retryDelayMs: 10 });
  workDir = await freshDir('registry');
  moduleDir = await writeMyRedisModule(path.join(workDir, 'my-redis'));
  built = await buildModuleArtifact({ dir: moduleDir, version: 'v0.1.0', sourceDateEpoch: 1_700_000_000 });
});

afterAll(async () => {
  await built?.dispose();
  await registry?.stop();
  await rm(workDir, { recursive: true, force: true });
});

/** Pushes blobs and a manifest document as given (for artifacts the builder would never produce). */
async function pushRaw(repository: string, tag: string, manifest: ImageManifest, blobs: Array<Buffer | { path: string }>): Promise<string> {
  for (const blob of blobs) await client.uploadBlob(repository, blob);
  const result = await client.putManifest(repository, tag, { bytes: canonicalJsonBytes(manifest), mediaType: OCI_MANIFEST_MEDIA_TYPE });
  return result.digest;
}

async function tarOf(dir: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of reproducibleTar(await readModuleTree(dir, { mask: ['/etc/redis/sentinel.conf'] }), { mtime: 1_700_000_000 })) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The built manifest with its tree layer replaced by `tar` (as an attacker with push rights would do). */
function withTreeLayer(tar: Buffer): ImageManifest {
  return {
    ...built.manifest,
    layers: built.manifest.layers.map((layer) =>
      layer.mediaType === MODULE_TREE_LAYER_MEDIA_TYPE ? { ...layer, digest: sha256Digest(tar), size: tar.length } : layer,
    ),
  };
}

async function pushBuiltBlobs(repository: string): Promise<void> {
  for (const blob of built.blobs.values()) await client.uploadBlob(repository, blob.bytes ?? { path: blob.path });
}

async function expectPullFailure(reference: string, code: string, message: RegExp): Promise<void> {
  const failure = await pullModuleArtifact(client, reference).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(isPowernodeError(failure)).toBe(true);
  expect(failure).toMatchObject({ code });
  expect((failure as Error).message).toMatch(message);
}

describe('push and pull against docker-registry', () => {
  it('round-trips: pull by tag and by digest verifies every file and returns the module manifest', async () => {
    const repository = repo('my-redis');
    const pushSteps: ArtifactProgressStep[] = [];
    const digest = await pushModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, built, { onProgress: (step) => pushSteps.push(step) });
    expect(digest).toBe(built.manifestDigest);
    expect(pushSteps).toEqual(['blob_pushed', 'blob_pushed', 'blob_pushed', 'blob_pushed', 'manifest_pushed']);

    const pullSteps: ArtifactProgressStep[] = [];
    const byTag = await pullModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, { onProgress: (step) => pullSteps.push(step) });
    expect(byTag.manifestDigest).toBe(built.manifestDigest);
    expect(byTag.rootHash).toBe(built.rootHash);
    expect(byTag.composefsDigest).toBe(built.composefsDigest);
    expect(byTag.config).toEqual(built.moduleManifest);
    expect(byTag.entries.map((entry) => [entry.path, entry.digest])).toEqual(built.entries.map((entry) => [entry.path, entry.digest]));
    expect(fsverityDigestOfBuffer(byTag.description)).toBe(built.rootHash);
    expect(byTag.sbom).toMatchObject({ bomFormat: 'CycloneDX', metadata: { component: { name: 'my-redis', version: '0.1.0' } } });
    expect(pullSteps).toEqual(['manifest_pulled', 'blob_pulled', 'blob_pulled', 'blob_pulled', 'blob_pulled', 'tree_verified']);

    const byDigest = await pullModuleArtifact(client, `${registry.host}/${repository}@${built.manifestDigest}`);
    expect(byDigest.manifestDigest).toBe(built.manifestDigest);
  });

  it('skips blobs the repository already has on a second push', async () => {
    const repository = repo('again');
    await pushModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, built);
    const vias: string[] = [];
    await pushModuleArtifact(client, `${registry.host}/${repository}:latest`, built, {
      onProgress: (step, detail) => {
        if (step === 'blob_pushed') vias.push((detail as { via: string }).via);
      },
    });
    expect(vias).toEqual(['already_present', 'already_present', 'already_present', 'already_present']);
    expect(await client.listTags(repository)).toEqual(expect.arrayContaining(['v0.1.0', 'latest']));
  });

  it('pushes by digest when the reference has no tag, and refuses a reference pinning another digest', async () => {
    const repository = repo('by-digest');
    await expect(pushModuleArtifact(client, `${registry.host}/${repository}`, built)).resolves.toBe(built.manifestDigest);
    expect((await client.headManifest(repository, built.manifestDigest))?.digest).toBe(built.manifestDigest);
    await expect(pushModuleArtifact(client, `${registry.host}/${repository}@sha256:${'0'.repeat(64)}`, built)).rejects.toMatchObject({
      code: 'digest_mismatch',
    });
    await expect(pushModuleArtifact(client, `other.example.com:5000/${repository}:v1`, built)).rejects.toThrow(/the client talks to/);
  });

  it('keeps the verified tree layer in the cache and re-pulls it when the cached copy was altered', async () => {
    const repository = repo('cached');
    await pushModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, built);
    const cacheDir = path.join(workDir, `cache-${randomBytes(3).toString('hex')}`);
    const cachedFlags: boolean[] = [];
    const onProgress = (step: ArtifactProgressStep, detail: unknown): void => {
      const blob = detail as { role?: string; cached?: boolean };
      if (step === 'blob_pulled' && blob.role === 'tree') cachedFlags.push(blob.cached!);
    };
    const first = await pullModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, { cacheDir, onProgress });
    expect(first.treeLayerPath).toBe(path.join(cacheDir, 'blobs/sha256', built.manifest.layers[0]!.digest.slice(7)));
    expect((await stat(first.treeLayerPath!)).size).toBe(built.manifest.layers[0]!.size);
    await pullModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, { cacheDir, onProgress });
    const layer = await readFile(first.treeLayerPath!);
    layer[1024] = layer[1024]! ^ 0xff;
    await writeFile(first.treeLayerPath!, layer);
    const third = await pullModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, { cacheDir, onProgress });
    expect(cachedFlags).toEqual([false, true, false]);
    expect(sha256Digest(await readFile(third.treeLayerPath!))).toBe(built.manifest.layers[0]!.digest);
  });

  it('parses and re-hashes a tree layer once per cache: later pulls use the verification record', async () => {
    const repository = repo('recorded');
    await pushModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, built);
    const cacheDir = path.join(workDir, `cache-${randomBytes(3).toString('hex')}`);
    const recorded: boolean[] = [];
    const onProgress = (step: ArtifactProgressStep, detail: unknown): void => {
      if (step === 'tree_verified') recorded.push((detail as { recorded: boolean }).recorded);
    };
    await pullModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, { cacheDir, onProgress });
    await pullModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, { cacheDir, onProgress });
    // Without a cache there is nothing to remember: every pull verifies the whole tree.
    await pullModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, { onProgress });
    expect(recorded).toEqual([false, true, false]);
    expect(await readdir(path.join(cacheDir, 'verified'))).toEqual([
      `${built.manifest.layers[0]!.digest.slice(7)}.${built.manifest.annotations![MODULE_ANNOTATIONS.fsverityRootHash]!.slice(7)}`,
    ]);
  });

  it('leaves a verified tree layer alone when the caller says it does not need it (it holds the extracted tree)', async () => {
    const repository = repo('not-needed');
    await pushModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, built);
    const cacheDir = path.join(workDir, `cache-${randomBytes(3).toString('hex')}`);
    const treeDigest = built.manifest.layers[0]!.digest;
    const treePulls: boolean[] = [];
    const onProgress = (step: ArtifactProgressStep, detail: unknown): void => {
      const blob = detail as { role?: string; cached?: boolean };
      if (step === 'blob_pulled' && blob.role === 'tree') treePulls.push(blob.cached!);
    };
    const asked: string[] = [];
    const notNeeded = async (tree: { digest: string }) => {
      asked.push(tree.digest);
      return false;
    };
    // Never verified in this cache: fetched and verified whatever the caller says.
    const first = await pullModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, { cacheDir, onProgress, treeLayerNeeded: notNeeded });
    expect(asked).toEqual([]);
    await rm(first.treeLayerPath!);
    // Verified before and not needed: not fetched, not hashed.
    await pullModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, { cacheDir, onProgress, treeLayerNeeded: notNeeded });
    expect(asked).toEqual([treeDigest]);
    await expect(stat(first.treeLayerPath!)).rejects.toMatchObject({ code: 'ENOENT' });
    // Needed again (the tree went): fetched again.
    await pullModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, { cacheDir, onProgress, treeLayerNeeded: async () => true });
    expect(treePulls).toEqual([false, false]);
    expect(sha256Digest(await readFile(first.treeLayerPath!))).toBe(treeDigest);
  });
});

describe('tampering is caught on pull', () => {
  it('a file changed inside the tree layer, re-pushed under the new layer digest ⇒ fsverity_mismatch naming the path', async () => {
    const repository = repo('tampered-file');
    const tampered = path.join(workDir, `tampered-${randomBytes(3).toString('hex')}`);
    await writeMyRedisModule(tampered);
    const original = await readFile(path.join(tampered, 'rootfs/etc/redis/redis.conf'), 'utf8');
    // Same length, so the size check passes and only the content digest can tell.
    await writeFile(path.join(tampered, 'rootfs/etc/redis/redis.conf'), original.replace('protected-mode yes', 'protected-mode no '));
    const tar = await tarOf(tampered);
    await pushBuiltBlobs(repository);
    await pushRaw(repository, 'evil', withTreeLayer(tar), [tar]);
    await expectPullFailure(`${registry.host}/${repository}:evil`, 'fsverity_mismatch', /^fsverity verification failed: \/etc\/redis\/redis\.conf /);
  });

  it('a file added to the tree layer ⇒ fsverity_mismatch naming the extra path', async () => {
    const repository = repo('extra-file');
    const tampered = await writeMyRedisModule(path.join(workDir, `extra-${randomBytes(3).toString('hex')}`));
    await writeFile(path.join(tampered, 'rootfs/etc/redis/backdoor.conf'), 'rename-command CONFIG ""\n');
    const tar = await tarOf(tampered);
    await pushBuiltBlobs(repository);
    await pushRaw(repository, 'evil', withTreeLayer(tar), [tar]);
    await expectPullFailure(`${registry.host}/${repository}:evil`, 'fsverity_mismatch', /^fsverity verification failed: \/etc\/redis\/backdoor\.conf /);
  });

  it('a rewritten composefs description that no longer matches the root hash ⇒ fsverity_mismatch', async () => {
    const repository = repo('tampered-description');
    const description = parseComposefsDescription(built.blobs.get(built.composefsDigest)!.bytes!);
    const forged = formatComposefsDescription(
      description.entries.filter((entry) => entry.path !== '/var/lib/redis/.gitkeep' && entry.path !== '/'),
      { mtime: 1_700_000_000 },
    );
    const manifest: ImageManifest = {
      ...built.manifest,
      layers: built.manifest.layers.map((layer) =>
        layer.mediaType === COMPOSEFS_DESCRIPTION_MEDIA_TYPE ? { ...layer, digest: sha256Digest(forged), size: forged.length } : layer,
      ),
      annotations: { ...built.manifest.annotations, 'io.powernode.composefs_digest': sha256Digest(forged) },
    };
    await pushBuiltBlobs(repository);
    await pushRaw(repository, 'evil', manifest, [forged]);
    await expectPullFailure(`${registry.host}/${repository}:evil`, 'fsverity_mismatch', /^fsverity verification failed: composefs description/);
  });

  it.each([
    ['same size', (bytes: Buffer) => Buffer.concat([bytes.subarray(0, 600), Buffer.from('X'), bytes.subarray(601)])],
    ['shorter', (bytes: Buffer) => bytes.subarray(0, bytes.length - 512)],
  ])('a tree layer blob replaced in the registry storage (%s) ⇒ digest_mismatch', async (_what, alter) => {
    const repository = repo('replaced-blob');
    // The registry shares blob storage across repositories: tamper with a layer only this test uses.
    const tampered = await writeMyRedisModule(path.join(workDir, `replaced-${randomBytes(3).toString('hex')}`));
    await writeFile(path.join(tampered, 'rootfs/etc/redis/unique.conf'), `${randomBytes(16).toString('hex')}\n`);
    const unique = await buildModuleArtifact({ dir: tampered, version: '0.1.0' });
    try {
      await pushModuleArtifact(client, `${registry.host}/${repository}:v0.1.0`, unique);
      const layerDigest = unique.manifest.layers[0]!.digest;
      const stored = registry.blobDataPath(layerDigest);
      await writeFile(stored, alter(await readFile(stored)));
      await expectPullFailure(`${registry.host}/${repository}:v0.1.0`, 'digest_mismatch', new RegExp(layerDigest));
    } finally {
      await unique.dispose();
    }
  });

  it('a manifest that is not a module artifact ⇒ manifest_invalid', async () => {
    const repository = repo('not-module');
    await pushBuiltBlobs(repository);
    await pushRaw(repository, 'wrong-type', { ...built.manifest, artifactType: 'application/vnd.example.other' }, []);
    await expectPullFailure(`${registry.host}/${repository}:wrong-type`, 'manifest_invalid', /artifactType is "application\/vnd\.example\.other"/);
    await pushRaw(repository, 'two-layers', { ...built.manifest, layers: built.manifest.layers.slice(0, 2) }, []);
    await expectPullFailure(`${registry.host}/${repository}:two-layers`, 'manifest_invalid', /0 layers of type application\/vnd\.cyclonedx\+json/);
    const { [`io.powernode.fsverity_root_hash`]: _dropped, ...annotations } = built.manifest.annotations!;
    await pushRaw(repository, 'no-root-hash', { ...built.manifest, annotations }, []);
    await expectPullFailure(`${registry.host}/${repository}:no-root-hash`, 'manifest_invalid', /annotation io\.powernode\.fsverity_root_hash is missing/);
    await pushRaw(repository, 'wrong-name', { ...built.manifest, annotations: { ...built.manifest.annotations, 'io.powernode.module.name': 'other' } }, []);
    await expectPullFailure(`${registry.host}/${repository}:wrong-name`, 'manifest_invalid', /names my-redis/);
  });

  it('a reference without tag or digest, or to an unknown tag, is refused', async () => {
    await expect(pullModuleArtifact(client, `${registry.host}/${repo('none')}`)).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(pullModuleArtifact(client, `${registry.host}/${repo('none')}:v9`)).rejects.toMatchObject({ code: 'not_found' });
  });
});
