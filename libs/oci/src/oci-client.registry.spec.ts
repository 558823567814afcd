import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRegistry, type TestRegistry } from '@powernode/testing';
import {
  OCI_EMPTY_DESCRIPTOR,
  OCI_EMPTY_JSON,
  OCI_INDEX_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  OciClient,
  canonicalJsonBytes,
  manifestDescriptor,
  sha256Digest,
  type ImageIndex,
  type ImageManifest,
} from './index.js';

const SIGNATURE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const SBOM_TYPE = 'application/vnd.cyclonedx+json';

let registry: TestRegistry;
let client: OciClient;
let workDir: string;

/** A repository name no other test uses. */
const repo = (what: string): string => `test/${what}-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  registry = await startRegistry();
  client = new OciClient({ registry: registry.host, insecure: true, retries: 1, retryDelayMs: 10 });
  workDir = await mkdtemp(path.join(tmpdir(), 'powernode-oci-spec-'));
});

afterAll(async () => {
  await registry?.stop();
  await rm(workDir, { recursive: true, force: true });
});

/** Pushes a small image (empty config + one layer) and returns its manifest result. */
async function pushImage(repository: string, tag: string, layerBytes = randomBytes(64)) {
  await client.uploadBlob(repository, OCI_EMPTY_JSON);
  const layer = await client.uploadBlob(repository, layerBytes, { mediaType: 'application/vnd.oci.image.layer.v1.tar' });
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    artifactType: 'application/vnd.powernode.module.v1',
    config: OCI_EMPTY_DESCRIPTOR,
    layers: [layer.descriptor],
    annotations: { 'io.powernode.module.name': 'demo' },
  };
  return client.putManifest(repository, tag, manifest);
}

/** Pushes a referrer of `subject` carrying `payload` as its single layer. */
async function attach(repository: string, subject: { digest: string; mediaType: string; bytes: Buffer }, artifactType: string, payload: Buffer) {
  const blob = await client.uploadBlob(repository, payload, { mediaType: artifactType });
  const referrer: ImageManifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    artifactType,
    config: OCI_EMPTY_DESCRIPTOR,
    layers: [blob.descriptor],
    subject: manifestDescriptor(subject),
  };
  return client.attachReferrer(repository, referrer);
}

describe('OciClient against docker-registry', () => {
  test('ping answers', async () => {
    await expect(client.ping()).resolves.toBeUndefined();
  });

  test('blob round-trip: monolithic upload, exists, pull verified, second upload skipped', async () => {
    const repository = repo('blob');
    const bytes = randomBytes(100_000);
    const digest = sha256Digest(bytes);
    expect(await client.blobExists(repository, digest)).toBe(false);

    const uploaded = await client.uploadBlob(repository, bytes);
    expect(uploaded).toEqual({ descriptor: { mediaType: 'application/octet-stream', digest, size: bytes.length }, via: 'monolithic' });
    expect(await client.blobExists(repository, digest)).toBe(true);
    expect((await client.getBlob(repository, uploaded.descriptor)).equals(bytes)).toBe(true);
    expect((await client.getBlob(repository, digest)).equals(bytes)).toBe(true);
    expect((await client.uploadBlob(repository, bytes)).via).toBe('already_present');
  });

  test('an empty blob round-trips', async () => {
    const repository = repo('empty');
    const uploaded = await client.uploadBlob(repository, new Uint8Array(0));
    expect(uploaded.descriptor.size).toBe(0);
    expect((await client.getBlob(repository, uploaded.descriptor)).length).toBe(0);
  });

  test('chunked upload from a file (size not a multiple of the chunk), pulled by stream and to a file', async () => {
    const repository = repo('chunked');
    const bytes = randomBytes(3 * 256 * 1024 + 12_345);
    const source = path.join(workDir, 'chunked.bin');
    await writeFile(source, bytes);
    const uploaded = await client.uploadBlob(repository, { path: source }, { chunkSize: 256 * 1024 });
    expect(uploaded.via).toBe('chunked');
    expect(uploaded.descriptor).toMatchObject({ digest: sha256Digest(bytes), size: bytes.length });

    const stream = await client.getBlobStream(repository, uploaded.descriptor);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);

    const target = path.join(workDir, 'downloaded.bin');
    expect(await client.downloadBlob(repository, uploaded.descriptor, target)).toEqual({ digest: sha256Digest(bytes), size: bytes.length });
    expect((await readFile(target)).equals(bytes)).toBe(true);
  });

  test('a wrong digest given for a file upload is refused by the registry as digest_mismatch', async () => {
    const repository = repo('wrongdigest');
    const source = path.join(workDir, 'wrong.bin');
    await writeFile(source, randomBytes(1000));
    const claimed = sha256Digest(Buffer.from('something else'));
    await expect(client.uploadBlob(repository, { path: source }, { digest: claimed })).rejects.toMatchObject({ code: 'digest_mismatch' });
    expect(await client.blobExists(repository, claimed)).toBe(false);
  });

  test('a wrong digest given with bytes is refused before anything is sent', async () => {
    await expect(client.uploadBlob(repo('x'), Buffer.from('abc'), { digest: sha256Digest(Buffer.from('abd')) })).rejects.toMatchObject({
      code: 'digest_mismatch',
    });
  });

  test('cross-repository mount, and falling back to an upload when the source lacks the blob', async () => {
    const source = repo('mount-src');
    const target = repo('mount-dst');
    const bytes = randomBytes(5000);
    await client.uploadBlob(source, bytes);
    const mounted = await client.uploadBlob(target, bytes, { mountFrom: source });
    expect(mounted.via).toBe('mounted');
    expect((await client.getBlob(target, mounted.descriptor)).equals(bytes)).toBe(true);

    const other = randomBytes(5000);
    const fellBack = await client.uploadBlob(repo('mount-dst2'), other, { mountFrom: repo('nowhere') });
    expect(fellBack.via).toBe('monolithic');
  });

  test('image manifest round-trip by tag and by digest, with identical bytes and digest', async () => {
    const repository = repo('manifest');
    const pushed = await pushImage(repository, 'v1.0.0');
    expect(pushed.digest).toBe(sha256Digest(pushed.bytes));
    expect(pushed.bytes.equals(canonicalJsonBytes(pushed.manifest))).toBe(true);

    const byTag = await client.getManifest(repository, 'v1.0.0');
    expect(byTag.digest).toBe(pushed.digest);
    expect(byTag.mediaType).toBe(OCI_MANIFEST_MEDIA_TYPE);
    expect(byTag.bytes.equals(pushed.bytes)).toBe(true);
    expect(byTag.manifest).toEqual(pushed.manifest);

    const byDigest = await client.getManifest(repository, pushed.digest);
    expect(byDigest.digest).toBe(pushed.digest);
    expect(await client.headManifest(repository, 'v1.0.0')).toEqual({ digest: pushed.digest, mediaType: OCI_MANIFEST_MEDIA_TYPE, size: pushed.bytes.length });
    expect(await client.headManifest(repository, 'nope')).toBeUndefined();
  });

  test('pushing the same manifest twice gives the same digest (deterministic serialisation)', async () => {
    const repository = repo('deterministic');
    const layer = await client.uploadBlob(repository, Buffer.from('layer'));
    await client.uploadBlob(repository, OCI_EMPTY_JSON);
    const a: ImageManifest = { schemaVersion: 2, config: OCI_EMPTY_DESCRIPTOR, layers: [layer.descriptor], annotations: { x: '1', a: '2' } };
    const b = { annotations: { a: '2', x: '1' }, layers: [layer.descriptor], config: OCI_EMPTY_DESCRIPTOR, schemaVersion: 2 } as ImageManifest;
    expect((await client.putManifest(repository, 'a', a)).digest).toBe((await client.putManifest(repository, 'b', b)).digest);
  });

  test('index round-trip pointing at two image manifests', async () => {
    const repository = repo('index');
    const amd64 = await pushImage(repository, 'amd64');
    const arm64 = await pushImage(repository, 'arm64');
    const index: ImageIndex = {
      schemaVersion: 2,
      mediaType: OCI_INDEX_MEDIA_TYPE,
      manifests: [
        { ...manifestDescriptor(amd64), platform: { architecture: 'amd64', os: 'linux' } },
        { ...manifestDescriptor(arm64), platform: { architecture: 'arm64', os: 'linux' } },
      ],
    };
    const pushed = await client.putManifest(repository, 'v1', index);
    const pulled = await client.getManifest(repository, 'v1');
    expect(pulled.mediaType).toBe(OCI_INDEX_MEDIA_TYPE);
    expect(pulled.digest).toBe(pushed.digest);
    expect(pulled.manifest).toEqual(index);
  });

  test('pushing under a digest that is not the manifest digest is refused', async () => {
    const repository = repo('baddigest');
    await client.uploadBlob(repository, OCI_EMPTY_JSON);
    const manifest: ImageManifest = { schemaVersion: 2, config: OCI_EMPTY_DESCRIPTOR, layers: [] };
    await expect(client.putManifest(repository, sha256Digest(Buffer.from('x')), manifest)).rejects.toMatchObject({ code: 'digest_mismatch' });
  });

  test('a manifest referencing a missing blob is rejected by the registry with its error body', async () => {
    const repository = repo('missingblob');
    const manifest: ImageManifest = {
      schemaVersion: 2,
      config: OCI_EMPTY_DESCRIPTOR,
      layers: [{ mediaType: 'application/octet-stream', digest: sha256Digest(Buffer.from('never pushed')), size: 12 }],
    };
    const error = await client.putManifest(repository, 'v1', manifest).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'registry_error', retryable: false, details: { status: 400 } });
    expect((error as Error).message).toMatch(/BLOB_UNKNOWN|MANIFEST_BLOB_UNKNOWN/);
  });

  test('tags are listed across pages', async () => {
    const repository = repo('tags');
    const pushed = await pushImage(repository, 't0');
    const tags = ['t0', 't1', 't2', 't3', 't4'];
    for (const tag of tags.slice(1)) await client.putManifest(repository, tag, { bytes: pushed.bytes, mediaType: pushed.mediaType });
    expect((await client.listTags(repository, { pageSize: 2 })).sort()).toEqual(tags);
    expect(await client.listTags(repo('unknown'))).toEqual([]);
  });

  test('referrers: falls back to the sha256-<hex> tag index, filters by artifact type, and is idempotent', async () => {
    const repository = repo('referrers');
    const subject = await pushImage(repository, 'v1');
    expect(await client.referrers(repository, subject.digest)).toEqual([]);

    const signature = await attach(repository, subject, SIGNATURE_TYPE, Buffer.from('{"bundle":1}'));
    expect(signature.fallbackTag).toBe(`sha256-${subject.digest.slice('sha256:'.length)}`);
    const sbom = await attach(repository, subject, SBOM_TYPE, Buffer.from('{"sbom":1}'));
    const again = await attach(repository, subject, SIGNATURE_TYPE, Buffer.from('{"bundle":1}'));
    expect(again.digest).toBe(signature.digest);

    const all = await client.referrers(repository, subject.digest);
    expect(all.map((d) => d.digest).sort()).toEqual([signature.digest, sbom.digest].sort());
    expect(all.find((d) => d.digest === signature.digest)).toEqual({
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      digest: signature.digest,
      size: signature.bytes.length,
      artifactType: SIGNATURE_TYPE,
    });
    expect((await client.referrers(repository, subject.digest, SBOM_TYPE)).map((d) => d.digest)).toEqual([sbom.digest]);

    const tagIndex = await client.getManifest(repository, signature.fallbackTag!);
    expect(tagIndex.mediaType).toBe(OCI_INDEX_MEDIA_TYPE);
    const referrerManifest = await client.getManifest(repository, signature.digest);
    expect((referrerManifest.manifest as ImageManifest).subject?.digest).toBe(subject.digest);
  });

  test('a referrer without subject is refused', async () => {
    await expect(client.attachReferrer(repo('x'), { schemaVersion: 2, config: OCI_EMPTY_DESCRIPTOR, layers: [] })).rejects.toMatchObject({
      code: 'validation_failed',
    });
  });

  test('deleteManifest removes it; a second delete is not_found', async () => {
    const repository = repo('delete');
    const pushed = await pushImage(repository, 'v1');
    await client.deleteManifest(repository, pushed.digest);
    await expect(client.getManifest(repository, pushed.digest)).rejects.toMatchObject({ code: 'not_found' });
    await expect(client.deleteManifest(repository, pushed.digest)).rejects.toMatchObject({ code: 'not_found' });
    await expect(client.deleteManifest(repository, 'v1')).rejects.toMatchObject({ code: 'validation_failed' });
  });

  test('404s: unknown blob, unknown tag, unknown repository are not_found', async () => {
    const missing = sha256Digest(randomBytes(8));
    await expect(client.getBlob(repo('none'), missing)).rejects.toMatchObject({ code: 'not_found', details: { status: 404 } });
    await expect(client.getManifest(repo('none'), 'v9')).rejects.toMatchObject({ code: 'not_found' });
    expect(await client.blobExists(repo('none'), missing)).toBe(false);
    const error = await client.getManifest(repo('none'), missing).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/404.*(MANIFEST_UNKNOWN|NAME_UNKNOWN)/);
  });

  test('bad repository names and references are refused before any request', async () => {
    await expect(client.getManifest('Bad/Name', 'v1')).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(client.getManifest('ok/name', 'bad tag')).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(client.getBlob('ok/name', 'sha256:nothex')).rejects.toMatchObject({ code: 'validation_failed' });
  });
});

describe('tampered content in registry storage is detected on pull', () => {
  test('a blob altered on disk (same size) fails with digest_mismatch, buffered, streamed and to a file', async () => {
    const repository = repo('tamper');
    const bytes = randomBytes(20_000);
    const { descriptor } = await client.uploadBlob(repository, bytes);
    const dataPath = registry.blobDataPath(descriptor.digest);
    const tampered = Buffer.from(bytes);
    tampered[12_345] ^= 0xff;
    await writeFile(dataPath, tampered);

    await expect(client.getBlob(repository, descriptor)).rejects.toMatchObject({ code: 'digest_mismatch' });
    await expect(client.getBlob(repository, descriptor.digest)).rejects.toMatchObject({ code: 'digest_mismatch' });

    const stream = await client.getBlobStream(repository, descriptor);
    const consumed = (async () => {
      for await (const chunk of stream) void chunk;
    })();
    await expect(consumed).rejects.toMatchObject({ code: 'digest_mismatch' });

    const target = path.join(workDir, `tampered-${randomBytes(3).toString('hex')}.bin`);
    await expect(client.downloadBlob(repository, descriptor, target)).rejects.toMatchObject({ code: 'digest_mismatch' });
    const leftovers = (await readdir(workDir)).filter((name) => name.startsWith(path.basename(target)));
    expect(leftovers).toEqual([]);
  });

  test('a truncated blob (short read) fails with digest_mismatch whether or not the size is known', async () => {
    const repository = repo('truncate');
    const bytes = randomBytes(20_000);
    const { descriptor } = await client.uploadBlob(repository, bytes);
    await truncate(registry.blobDataPath(descriptor.digest), 10_000);
    await expect(client.getBlob(repository, descriptor)).rejects.toMatchObject({ code: 'digest_mismatch' });
    await expect(client.getBlob(repository, descriptor.digest)).rejects.toMatchObject({ code: 'digest_mismatch' });
  });

  test('a manifest altered on disk fails with digest_mismatch when pulled by digest and by tag', async () => {
    const repository = repo('tamper-manifest');
    const pushed = await pushImage(repository, 'v1');
    const altered = Buffer.from(pushed.bytes.toString('utf8').replace('"demo"', '"evil"'));
    expect(altered.length).toBe(pushed.bytes.length);
    await writeFile(registry.blobDataPath(pushed.digest), altered);
    await expect(client.getManifest(repository, pushed.digest)).rejects.toMatchObject({ code: 'digest_mismatch' });
    await expect(client.getManifest(repository, 'v1')).rejects.toMatchObject({ code: 'digest_mismatch' });
  });
});

describe('a registry with deletes disabled', () => {
  test('deleteManifest explains that the registry refuses deletes', async () => {
    const locked = await startRegistry({ deleteEnabled: false });
    try {
      const lockedClient = new OciClient({ registry: locked.host, insecure: true, retries: 0 });
      const repository = repo('nodelete');
      await lockedClient.uploadBlob(repository, OCI_EMPTY_JSON);
      const pushed = await lockedClient.putManifest(repository, 'v1', { schemaVersion: 2, config: OCI_EMPTY_DESCRIPTOR, layers: [] });
      await expect(lockedClient.deleteManifest(repository, pushed.digest)).rejects.toMatchObject({
        code: 'registry_error',
        retryable: false,
        message: expect.stringMatching(/does not allow deletes/),
      });
      expect((await lockedClient.getManifest(repository, 'v1')).digest).toBe(pushed.digest);
    } finally {
      await locked.stop();
    }
  });
});
