import { randomBytes } from 'node:crypto';
import { htpasswdSkipReason, startRegistry, type TestRegistry } from '@powernode/testing';
import { OCI_EMPTY_DESCRIPTOR, OCI_EMPTY_JSON, OciClient, sha256Digest } from './index.js';

const repo = (what: string): string => `auth/${what}-${randomBytes(4).toString('hex')}`;

const skipReason = htpasswdSkipReason();

(skipReason === undefined ? describe : describe.skip)(
  `registry with htpasswd (basic) auth${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let registry: TestRegistry;
    beforeAll(async () => {
      registry = await startRegistry({ auth: 'htpasswd' });
    });
    afterAll(async () => {
      await registry?.stop();
    });

    test('with the right credentials: push and pull a blob and a manifest', async () => {
      const client = new OciClient({ registry: registry.host, insecure: true, auth: registry.credentials! });
      await client.ping();
      const repository = repo('basic');
      const bytes = randomBytes(2048);
      const { descriptor } = await client.uploadBlob(repository, bytes);
      expect((await client.getBlob(repository, descriptor)).equals(bytes)).toBe(true);
      await client.uploadBlob(repository, OCI_EMPTY_JSON);
      const pushed = await client.putManifest(repository, 'v1', { schemaVersion: 2, config: OCI_EMPTY_DESCRIPTOR, layers: [descriptor] });
      expect((await client.getManifest(repository, 'v1')).digest).toBe(pushed.digest);
      expect(await client.listTags(repository)).toEqual(['v1']);
    });

    test('without credentials: unauthenticated, not retried', async () => {
      const client = new OciClient({ registry: registry.host, insecure: true });
      const error = await client.ping().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'unauthenticated', retryable: false });
      expect((error as Error).message).toMatch(/requires a username and password/);
    });

    test('with a wrong password: unauthenticated', async () => {
      const client = new OciClient({ registry: registry.host, insecure: true, auth: { username: registry.credentials!.username, password: 'wrong' } });
      await expect(client.blobExists(repo('x'), sha256Digest(Buffer.from('x')))).rejects.toMatchObject({
        code: 'unauthenticated',
        message: expect.stringMatching(/rejected the username or password/),
      });
    });

    test('a bearer token where basic is demanded is unauthenticated', async () => {
      const client = new OciClient({ registry: registry.host, insecure: true, auth: { token: 'not-a-basic-credential' } });
      await expect(client.ping()).rejects.toMatchObject({ code: 'unauthenticated' });
    });
  },
);

describe('registry with bearer token auth (Docker token service)', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  test('exchanges credentials for a token per scope, caches it, and pushes, mounts and pulls', async () => {
    const client = new OciClient({ registry: registry.host, insecure: true, auth: registry.credentials! });
    const source = repo('src');
    const target = repo('dst');
    const bytes = randomBytes(4096);
    const { descriptor } = await client.uploadBlob(source, bytes);
    const requestsAfterFirstPush = registry.tokenRequests!.length;
    // Same repository again: the cached push token serves every call.
    await client.uploadBlob(source, randomBytes(100));
    expect(registry.tokenRequests!.length).toBe(requestsAfterFirstPush);

    const mounted = await client.uploadBlob(target, bytes, { mountFrom: source });
    expect(mounted.via).toBe('mounted');
    const mountToken = registry.tokenRequests!.find(
      (r) => r.scopes.includes(`repository:${source}:pull`) && r.scopes.includes(`repository:${target}:pull,push`),
    );
    expect(mountToken).toMatchObject({ authenticated: true, status: 200 });

    expect((await client.getBlob(target, descriptor)).equals(bytes)).toBe(true);
    expect(registry.tokenRequests!.every((r) => r.authenticated)).toBe(true);
  });

  test('anonymous callers get a token without access: the registry refuses, unauthenticated', async () => {
    const client = new OciClient({ registry: registry.host, insecure: true });
    const error = await client.getManifest(repo('anon'), 'v1').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unauthenticated' });
  });

  test('wrong credentials are refused by the token service: unauthenticated', async () => {
    const client = new OciClient({ registry: registry.host, insecure: true, auth: { username: registry.credentials!.username, password: 'nope' } });
    const error = await client.ping().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/token service .* refused the credentials/) });
  });

  test('a static bearer token the registry does not accept is unauthenticated', async () => {
    const client = new OciClient({ registry: registry.host, insecure: true, auth: { token: 'garbage' } });
    await expect(client.ping()).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/rejected the bearer token/) });
  });
});
