import { randomBytes } from 'node:crypto';
import { CLOSED_LOOPBACK_PORT, startRegistry, startRegistryProxy, type ProxyPlan, type RegistryProxy, type TestRegistry } from '@powernode/testing';
import { OCI_EMPTY_DESCRIPTOR, OCI_EMPTY_JSON, OciClient, sha256Digest, type OciClientOptions } from './index.js';

let registry: TestRegistry;
const proxies: RegistryProxy[] = [];

const repo = (what: string): string => `resilience/${what}-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  registry = await startRegistry();
});

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.stop()));
});

afterAll(async () => {
  await registry?.stop();
});

async function proxied(plan: ProxyPlan, options: Partial<OciClientOptions> = {}): Promise<{ client: OciClient; proxy: RegistryProxy }> {
  const proxy = await startRegistryProxy(registry.host, plan);
  proxies.push(proxy);
  return { proxy, client: new OciClient({ registry: proxy.host, insecure: true, retries: 3, retryDelayMs: 5, maxRetryDelayMs: 20, ...options }) };
}

const direct = (): OciClient => new OciClient({ registry: registry.host, insecure: true });

describe('retries', () => {
  test('the first requests failing with 503 are retried until the registry answers', async () => {
    const { client, proxy } = await proxied((_, index) => (index < 2 ? { kind: 'status', status: 503 } : { kind: 'forward' }));
    const repository = repo('flaky');
    const bytes = randomBytes(3000);
    const uploaded = await client.uploadBlob(repository, bytes);
    expect((await client.getBlob(repository, uploaded.descriptor)).equals(bytes)).toBe(true);
    expect(proxy.seen.slice(0, 3).map((s) => s.action)).toEqual(['status', 'status', 'forward']);
    expect(proxy.seen[0]!.url).toBe(proxy.seen[2]!.url);
  });

  test('dropped connections are retried too', async () => {
    const { client, proxy } = await proxied((_, index) => (index < 2 ? { kind: 'drop' } : { kind: 'forward' }));
    await client.ping();
    expect(proxy.seen.map((s) => s.action)).toEqual(['drop', 'drop', 'forward']);
  });

  test('a registry that keeps answering 503 gives registry_error with the status after retries+1 attempts', async () => {
    const { client, proxy } = await proxied(() => ({ kind: 'status', status: 503 }), { retries: 2 });
    const error = await client.ping().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'registry_error', retryable: true, details: { status: 503 } });
    expect((error as Error).message).toMatch(/503.*UNAVAILABLE/);
    expect(proxy.seen).toHaveLength(3);
  });

  test('4xx answers are not retried', async () => {
    const { client, proxy } = await proxied(() => ({ kind: 'forward' }));
    await expect(client.getManifest(repo('missing'), 'v1')).rejects.toMatchObject({ code: 'not_found' });
    expect(proxy.seen).toHaveLength(1);

    const { client: refusing, proxy: refusingProxy } = await proxied(() => ({
      kind: 'status',
      status: 400,
      body: JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: 'manifest invalid' }] }),
    }));
    await expect(refusing.getManifest(repo('bad'), 'v1')).rejects.toMatchObject({ code: 'registry_error', retryable: false, details: { status: 400 } });
    expect(refusingProxy.seen).toHaveLength(1);
  });

  test('429 is retried', async () => {
    const { client, proxy } = await proxied((_, index) => (index === 0 ? { kind: 'status', status: 429 } : { kind: 'forward' }));
    await client.ping();
    expect(proxy.seen.map((s) => s.action)).toEqual(['status', 'forward']);
  });
});

describe('unreachable registry', () => {
  test('a closed port gives registry_unreachable after retries, naming the registry', async () => {
    const port = CLOSED_LOOPBACK_PORT;
    const client = new OciClient({ registry: `127.0.0.1:${port}`, insecure: true, retries: 2, retryDelayMs: 5 });
    const error = await client.blobExists('a/b', sha256Digest(Buffer.from('x'))).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'registry_unreachable', retryable: true, details: { attempts: 3 } });
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });
});

describe('broken transfers', () => {
  test('a chunk failing mid-upload is resumed from where the registry stands', async () => {
    let patches = 0;
    const { client, proxy } = await proxied((request) => {
      if (request.method === 'PATCH' && ++patches === 2) return { kind: 'status', status: 503 };
      return { kind: 'forward' };
    });
    const repository = repo('resume');
    const bytes = randomBytes(4 * 64 * 1024 + 17);
    const uploaded = await client.uploadBlob(repository, bytes, { chunkSize: 64 * 1024 });
    expect(uploaded.via).toBe('chunked');
    expect((await direct().getBlob(repository, uploaded.descriptor)).equals(bytes)).toBe(true);
    const failedAt = proxy.seen.findIndex((s) => s.action === 'status');
    expect(proxy.seen[failedAt + 1]).toMatchObject({ method: 'GET' }); // asked where the upload stands
    expect(proxy.seen.filter((s) => s.method === 'PATCH')).toHaveLength(6); // 5 chunks + the failed one
  });

  test('a chunk upload whose session is gone starts over', async () => {
    let patches = 0;
    const { client } = await proxied((request) => {
      if (request.method === 'PATCH' && ++patches === 2) return { kind: 'status', status: 503 };
      // The status check fails too: the client must open a new session.
      if (request.method === 'GET' && request.url?.includes('/blobs/uploads/')) return { kind: 'status', status: 404 };
      return { kind: 'forward' };
    });
    const repository = repo('restart');
    const bytes = randomBytes(3 * 64 * 1024);
    const uploaded = await client.uploadBlob(repository, bytes, { chunkSize: 64 * 1024 });
    expect((await direct().getBlob(repository, uploaded.descriptor)).equals(bytes)).toBe(true);
  });

  test('a blob body cut off once is pulled again; cut off every time it is registry_unreachable', async () => {
    const repository = repo('cut');
    const bytes = randomBytes(200_000);
    const { descriptor } = await direct().uploadBlob(repository, bytes);

    let cuts = 0;
    const { client: once } = await proxied((request) =>
      request.method === 'GET' && request.url?.includes('/blobs/sha256') && cuts++ === 0 ? { kind: 'cut_body', afterBytes: 50_000 } : { kind: 'forward' },
    );
    expect((await once.getBlob(repository, descriptor)).equals(bytes)).toBe(true);
    expect(cuts).toBe(2);

    const { client: always } = await proxied((request) =>
      request.url?.includes('/blobs/sha256') ? { kind: 'cut_body', afterBytes: 50_000 } : { kind: 'forward' },
    );
    await expect(always.getBlob(repository, descriptor)).rejects.toMatchObject({ code: 'registry_unreachable' });
    // The cut may land before the response headers are read (opening the stream fails) or after (reading it fails).
    const drained = (async () => {
      const stream = await always.getBlobStream(repository, descriptor);
      for await (const chunk of stream) void chunk;
    })();
    await expect(drained).rejects.toMatchObject({ code: 'registry_unreachable' });
  });

  test('a body that ends cleanly but short is digest_mismatch, not accepted', async () => {
    const repository = repo('short');
    const bytes = randomBytes(200_000);
    const { descriptor } = await direct().uploadBlob(repository, bytes);
    const { client } = await proxied((request) => (request.url?.includes('/blobs/sha256') ? { kind: 'short_body', bytes: 150_000 } : { kind: 'forward' }));
    await expect(client.getBlob(repository, descriptor)).rejects.toMatchObject({ code: 'digest_mismatch' });
    await expect(client.getBlob(repository, descriptor.digest)).rejects.toMatchObject({ code: 'digest_mismatch' });
  });

  test('a manifest push retried after a 503 lands once', async () => {
    let puts = 0;
    const { client } = await proxied((request) =>
      request.method === 'PUT' && request.url?.includes('/manifests/') && puts++ === 0 ? { kind: 'status', status: 502 } : { kind: 'forward' },
    );
    const repository = repo('manifest-retry');
    await client.uploadBlob(repository, OCI_EMPTY_JSON);
    const pushed = await client.putManifest(repository, 'v1', { schemaVersion: 2, config: OCI_EMPTY_DESCRIPTOR, layers: [] });
    expect((await direct().getManifest(repository, 'v1')).digest).toBe(pushed.digest);
    expect(puts).toBe(2);
  });
});

// docker-registry 2.8 has no referrers API; newer registries (distribution 3, zot, Harbor) do. The proxy
// plays such a registry: it answers the referrers endpoint itself and acknowledges subjects on push.
describe('registry with a referrers API', () => {
  const SIGNATURE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

  test('attachReferrer relies on OCI-Subject and writes no fallback tag; referrers() reads the API and filters', async () => {
    const repository = repo('referrers-api');
    const seed = direct();
    await seed.uploadBlob(repository, OCI_EMPTY_JSON);
    const subject = await seed.putManifest(repository, 'v1', { schemaVersion: 2, config: OCI_EMPTY_DESCRIPTOR, layers: [] });
    const apiIndex = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256Digest(Buffer.from('a')), size: 1, artifactType: SIGNATURE_TYPE },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256Digest(Buffer.from('b')), size: 1, artifactType: 'other' },
      ],
    };
    const { client, proxy } = await proxied((request) => {
      if (request.url?.includes('/referrers/')) {
        return { kind: 'status', status: 200, body: JSON.stringify(apiIndex), headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' } };
      }
      if (request.method === 'PUT' && request.url?.includes('/manifests/sha256:')) return { kind: 'forward', addHeaders: { 'oci-subject': subject.digest } };
      return { kind: 'forward' };
    });

    const attached = await client.attachReferrer(repository, {
      schemaVersion: 2,
      artifactType: SIGNATURE_TYPE,
      config: OCI_EMPTY_DESCRIPTOR,
      layers: [],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.bytes.length },
    });
    expect(attached.fallbackTag).toBeUndefined();
    expect(await direct().headManifest(repository, `sha256-${subject.digest.slice(7)}`)).toBeUndefined();
    expect(proxy.seen.filter((s) => s.method === 'PUT').map((s) => s.url)).toEqual([`/v2/${repository}/manifests/${attached.digest}`]);

    expect(await client.referrers(repository, subject.digest)).toHaveLength(2);
    expect((await client.referrers(repository, subject.digest, SIGNATURE_TYPE)).map((d) => d.artifactType)).toEqual([SIGNATURE_TYPE]);
    expect(proxy.seen.some((s) => s.url.endsWith(`/referrers/${subject.digest}?artifactType=${encodeURIComponent(SIGNATURE_TYPE)}`))).toBe(true);
  });
});
