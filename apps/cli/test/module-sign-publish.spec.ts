// `powernode module sign` and `powernode module publish`, run as the real CLI against a real registry, a
// loopback Fulcio/TSA issuing from a dev Sigstore, a CI-style OIDC token endpoint and a webhook receiver
// that checks the HMAC the way the gateway does.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OciClient, type ImageManifest } from '@powernode/oci';
import { COSIGN_SIGN_PREDICATE_TYPE, DevSigstore, generateSigningKeyPair, verifyBundle, type SignerPolicy } from '@powernode/sigstore';
import { CLOSED_LOOPBACK_PORT, startRegistry, type TestRegistry } from '@powernode/testing';
import { startFakeSigstore, unsignedIdentityToken, type FakeSigstoreServer } from '../../../libs/sigstore/src/fake-fulcio.test-support.js';
import { runCli, temporaryDirectory, uniqueRepository } from './cli-process.test-support.js';
import { writeModule } from './module-fixture.test-support.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.test-support.js';

const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const DEV_POLICY: SignerPolicy = { identity_regexp: 'https://powernode\\.dev/dev-signer', issuer_regexp: 'https://powernode\\.dev/dev-issuer' };
const SECRET = 'whsec-test-0123456789abcdef';
const CI_ISSUER = 'https://token.actions.example.com';
const CI_IDENTITY = 'https://git.example.com/acme/cache-module/.gitea/workflows/build.yaml@refs/tags/v1.0.0';

let dir: string;
let remove: () => Promise<void>;
let moduleDir: string;
let dataDir: string;
let registry: TestRegistry;
let client: OciClient;
let receiver: WebhookReceiver;
let fulcioSigstore: DevSigstore;
let fakeSigstore: FakeSigstoreServer;
let tokenServer: Server;
let tokenUrl: string;
const tokenRequests: Array<{ url: string; authorization: string | undefined }> = [];

beforeAll(async () => {
  ({ dir, remove } = await temporaryDirectory('sign'));
  moduleDir = await writeModule(path.join(dir, 'cache-module'), 'cache-module');
  dataDir = path.join(dir, 'data');
  registry = await startRegistry();
  client = new OciClient({ registry: registry.host, insecure: true });
  receiver = await startWebhookReceiver(SECRET, { '/ok': { type: 'verify' }, '/flaky': { type: 'flaky', failures: 1 }, '/malformed': { type: 'malformed' } });
  // A second Sigstore plays the remote Fulcio + TSA of keyless signing.
  fulcioSigstore = await DevSigstore.loadOrCreate(path.join(dir, 'fulcio'));
  fakeSigstore = await startFakeSigstore(fulcioSigstore);
  // The CI job's OIDC token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL).
  tokenServer = createServer((req, res) => {
    tokenRequests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    if (req.headers.authorization !== 'bearer request-token-123') {
      res.writeHead(401).end('{"message":"bad request token"}');
      return;
    }
    const audience = new URL(req.url ?? '/', 'http://x').searchParams.get('audience');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ value: unsignedIdentityToken({ iss: CI_ISSUER, sub: CI_IDENTITY, aud: audience }) }));
  });
  await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
  tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token?api-version=2.0`;
});

afterAll(async () => {
  await Promise.all([registry?.stop(), receiver?.close(), fakeSigstore?.close(), new Promise((resolve) => tokenServer?.close(resolve))]);
  await remove();
});

/** Pushes the test module to a fresh repository; returns its reference and manifest digest. */
async function pushModule(tag = 'v1.0.0'): Promise<{ repository: string; ref: string; digest: string }> {
  const repository = uniqueRepository('signed');
  const ref = `${registry.host}/${repository}:${tag}`;
  const result = await runCli(['module', 'push', moduleDir, '--ref', ref, '--json', '-q']);
  expect(result.code).toBe(0);
  return { repository, ref, digest: (JSON.parse(result.stdout) as { digest: string }).digest };
}

/** The signature bundles attached to an image as referrers. */
async function attachedBundles(repository: string, digest: string): Promise<unknown[]> {
  const referrers = await client.referrers(repository, digest, BUNDLE_TYPE);
  return Promise.all(
    referrers.map(async (descriptor) => {
      const manifest = (await client.getManifest(repository, descriptor.digest)).manifest as ImageManifest;
      expect(manifest.subject?.digest).toBe(digest);
      expect(manifest.artifactType).toBe(BUNDLE_TYPE);
      expect(manifest.annotations?.['dev.sigstore.bundle.predicateType']).toBe(COSIGN_SIGN_PREDICATE_TYPE);
      return JSON.parse((await client.getBlob(repository, manifest.layers[0]!)).toString('utf8')) as unknown;
    }),
  );
}

describe('powernode module sign', () => {
  test('--dev signs the manifest digest; the referrer bundle verifies with the dev trusted root, in the library and with verify-blob', async () => {
    const { repository, ref, digest } = await pushModule();
    const result = await runCli(['module', 'sign', ref, '--dev', '--json'], { env: { POWERNODE_DATA_DIR: dataDir } });
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as {
      digest: string;
      signature: { digest: string; artifact_type: string; fallback_tag: string | null; signer: Record<string, unknown> };
    };
    expect(printed.digest).toBe(digest);
    expect(printed.signature).toMatchObject({
      artifact_type: BUNDLE_TYPE,
      signer: { mode: 'dev', identity: 'https://powernode.dev/dev-signer', issuer: 'https://powernode.dev/dev-issuer' },
    });
    expect(result.stderr).toMatch(/attached signature sha256:/);

    const bundles = await attachedBundles(repository, digest);
    expect(bundles).toHaveLength(1);
    const trust = (await DevSigstore.loadOrCreate(dataDir)).trust();
    expect(verifyBundle({ bundle: bundles[0], artifact: { digest }, predicateType: COSIGN_SIGN_PREDICATE_TYPE, policy: DEV_POLICY, trust })).toMatchObject({
      verified: true,
      signer_identity: 'https://powernode.dev/dev-signer',
    });
    // The signature names this image and no other.
    expect(verifyBundle({ bundle: bundles[0], artifact: { digest: `sha256:${'1'.repeat(64)}` }, policy: DEV_POLICY, trust })).toMatchObject({
      verified: false,
      reason_code: 'subject_digest_mismatch',
    });

    const bundleFile = path.join(dir, 'dev.bundle.json');
    await writeFile(bundleFile, JSON.stringify(bundles[0]));
    const verified = await runCli([
      'verify-blob',
      digest,
      '--bundle',
      bundleFile,
      '--trusted-root',
      path.join(dataDir, 'dev-sigstore', 'trusted_root.json'),
      '--certificate-identity',
      'https://powernode.dev/dev-signer',
      '--certificate-oidc-issuer',
      'https://powernode.dev/dev-issuer',
    ]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^Verified OK/);
  });

  test('--dev-identity and --dev-issuer are written into the certificate', async () => {
    const { repository, ref, digest } = await pushModule();
    const identity = 'https://git.example.com/acme/cache-module/.gitea/workflows/build.yaml@refs/tags/v1.0.0';
    const result = await runCli(
      ['module', 'sign', `${registry.host}/${repository}@${digest}`, '--dev', '--dev-identity', identity, '--dev-issuer', 'https://git.example.com', '-q'],
      {
        env: { POWERNODE_DATA_DIR: dataDir },
      },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`signer    ${identity} (issuer https://git.example.com)`);
    const [bundle] = await attachedBundles(repository, digest);
    const trust = (await DevSigstore.loadOrCreate(dataDir)).trust();
    const policy = { identity_regexp: identity.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), issuer_regexp: 'https://git\\.example\\.com' };
    expect(verifyBundle({ bundle, artifact: { digest }, policy, trust }).verified).toBe(true);
    expect(ref).toContain(repository);
  });

  test('--key signs with a key pair; only that public key verifies the bundle', async () => {
    const { repository, ref, digest } = await pushModule();
    const keys = generateSigningKeyPair();
    const keyFile = path.join(dir, 'cosign.key');
    await writeFile(keyFile, keys.privateKeyPem, { mode: 0o600 });
    const result = await runCli(['module', 'sign', ref, '--key', keyFile, '--json', '-q']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      signature: { signer: { mode: 'key', identity: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), issuer: null } },
    });
    const [bundle] = await attachedBundles(repository, digest);
    const trust = (await DevSigstore.loadOrCreate(dataDir)).trust();
    expect(verifyBundle({ bundle, artifact: { digest }, policy: { public_key_pem: keys.publicKeyPem }, trust })).toMatchObject({
      verified: true,
      signer_kind: 'public_key',
    });
    expect(verifyBundle({ bundle, artifact: { digest }, policy: { public_key_pem: generateSigningKeyPair().publicKeyPem }, trust }).verified).toBe(false);
  });

  test('keyless with --identity-token: a Fulcio certificate for the token identity, timestamped by the TSA', async () => {
    const { repository, ref, digest } = await pushModule();
    const token = unsignedIdentityToken({
      iss: 'https://oidc.example.com',
      sub: 'ignored',
      email: 'release@example.com',
      email_verified: true,
      aud: 'sigstore',
    });
    const before = fakeSigstore.requests.length;
    const result = await runCli([
      'module',
      'sign',
      ref,
      '--identity-token',
      token,
      '--fulcio-url',
      fakeSigstore.url,
      '--tsa-url',
      fakeSigstore.url,
      '--no-tlog-upload',
      '--json',
      '-q',
    ]);
    expect(result.code).toBe(0);
    expect(fakeSigstore.requests.slice(before)).toEqual(['POST /api/v2/signingCert', 'POST /api/v1/timestamp']);
    expect(JSON.parse(result.stdout)).toMatchObject({
      signature: { signer: { mode: 'keyless', identity: 'release@example.com', issuer: 'https://oidc.example.com' } },
    });
    const [bundle] = await attachedBundles(repository, digest);
    const policy = { identity_regexp: 'release@example\\.com', issuer_regexp: 'https://oidc\\.example\\.com' };
    expect(verifyBundle({ bundle, artifact: { digest }, predicateType: COSIGN_SIGN_PREDICATE_TYPE, policy, trust: fulcioSigstore.trust() }).verified).toBe(
      true,
    );
  });

  test('keyless in CI: with no signing flag the token comes from ACTIONS_ID_TOKEN_REQUEST_URL, audience sigstore', async () => {
    const { repository, ref, digest } = await pushModule();
    tokenRequests.length = 0;
    const result = await runCli(['module', 'sign', ref, '--json', '-q'], {
      env: {
        ACTIONS_ID_TOKEN_REQUEST_URL: tokenUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token-123',
        POWERNODE_FULCIO_URL: fakeSigstore.url,
        POWERNODE_TSA_URL: fakeSigstore.url,
        POWERNODE_REKOR_URL: '',
      },
    });
    expect(result.code).toBe(0);
    expect(tokenRequests).toEqual([{ url: '/token?api-version=2.0&audience=sigstore', authorization: 'bearer request-token-123' }]);
    const [bundle] = await attachedBundles(repository, digest);
    const policy = { identity_regexp: CI_IDENTITY.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), issuer_regexp: CI_ISSUER.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') };
    expect(verifyBundle({ bundle, artifact: { digest }, policy, trust: fulcioSigstore.trust() })).toMatchObject({
      verified: true,
      signer_identity: CI_IDENTITY,
      signer_issuer: CI_ISSUER,
    });
  });

  test('a CI token endpoint that refuses is a signing failure (exit 1) naming id-token: write', async () => {
    const { ref } = await pushModule();
    const result = await runCli(['module', 'sign', ref, '--keyless', '--tsa-url', fakeSigstore.url, '--no-tlog-upload', '--fulcio-url', fakeSigstore.url], {
      env: { ACTIONS_ID_TOKEN_REQUEST_URL: tokenUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/identity token endpoint answered 401.*id-token: write/);
  });

  test('no signing mode outside CI, or two at once, is a usage error (exit 2)', async () => {
    const { ref } = await pushModule();
    const none = await runCli(['module', 'sign', ref]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/choose how to sign: --dev, --key FILE or --identity-token JWT/);
    const two = await runCli(['module', 'sign', ref, '--dev', '--key', path.join(dir, 'cosign.key')], { env: { POWERNODE_DATA_DIR: dataDir } });
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/choose one signing mode, not --dev and --key/);
  });

  test('a flag on the command line wins over a signing mode set in the environment', async () => {
    const { ref } = await pushModule();
    const result = await runCli(['module', 'sign', ref, '--dev', '--json', '-q'], {
      env: { POWERNODE_DATA_DIR: dataDir, POWERNODE_SIGNING_KEY: path.join(dir, 'missing.key') },
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ signature: { signer: { mode: 'dev' } } });
  });

  test('an image that is not in the registry is refused (exit 1); a bad reference too', async () => {
    const missing = await runCli(['module', 'sign', `${registry.host}/${uniqueRepository('absent')}:v9.9.9`, '--dev'], {
      env: { POWERNODE_DATA_DIR: dataDir },
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist in the registry; push it first/);
    const bad = await runCli(['module', 'sign', 'no-registry-here', '--dev'], { env: { POWERNODE_DATA_DIR: dataDir } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/names no registry host/);
  });
});

describe('powernode module publish', () => {
  const publishArgs = (ref: string, webhookPath: string, secret = SECRET): string[] => [
    'module',
    'publish',
    moduleDir,
    '--ref',
    ref,
    '--repo-full-name',
    'acme/cache-module',
    '--webhook-url',
    `${receiver.url}${webhookPath}`,
    '--webhook-secret',
    secret,
    '--dev',
  ];

  test('validates, builds, pushes, signs and calls the webhook with a body signed by the secret', async () => {
    const repository = uniqueRepository('publish');
    const ref = `${registry.host}/${repository}:v1.2.0`;
    const before = receiver.deliveries.length;
    const result = await runCli([...publishArgs(ref, '/ok'), '--json'], { env: { POWERNODE_DATA_DIR: dataDir } });
    expect(result.code).toBe(0);
    for (const step of ['[1/5] validate', '[2/5] build', '[3/5] push', '[4/5] sign', '[5/5] webhook']) expect(result.stderr).toContain(step);
    const printed = JSON.parse(result.stdout) as {
      digest: string;
      artifact: string;
      version: string;
      signature: { digest: string };
      webhook: { status: number; delivery_id: string };
    };
    expect(printed.artifact).toBe(`${ref}@${printed.digest}`);
    expect(printed.version).toBe('1.2.0');
    expect(printed.webhook.status).toBe(202);

    const deliveries = receiver.deliveries.slice(before);
    expect(deliveries).toHaveLength(1);
    const delivery = deliveries[0]!;
    expect(delivery.signatureValid).toBe(true);
    expect(delivery.headers['content-type']).toBe('application/json');
    expect(delivery.headers['x-gitea-delivery']).toBe(printed.webhook.delivery_id);
    expect(delivery.headers['x-gitea-delivery']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(delivery.body.toString('utf8')).toBe(
      JSON.stringify({
        repository: { full_name: 'acme/cache-module' },
        ref: 'refs/tags/v1.2.0',
        artifact: `${ref}@${printed.digest}`,
        delivery: printed.webhook.delivery_id,
      }),
    );

    // What the webhook names is in the registry, signed.
    expect((await client.getManifest(repository, printed.digest)).digest).toBe(printed.digest);
    const bundles = await attachedBundles(repository, printed.digest);
    expect(bundles).toHaveLength(1);
    const trust = (await DevSigstore.loadOrCreate(dataDir)).trust();
    expect(verifyBundle({ bundle: bundles[0], artifact: { digest: printed.digest }, policy: DEV_POLICY, trust }).verified).toBe(true);
  });

  test('every flag can come from its environment variable; the repository falls back to GITHUB_REPOSITORY', async () => {
    const ref = `${registry.host}/${uniqueRepository('env')}:v2.0.0`;
    const before = receiver.deliveries.length;
    const result = await runCli(['module', 'publish', moduleDir], {
      env: {
        POWERNODE_MODULE_REF: ref,
        GITHUB_REPOSITORY: 'acme/from-github-env',
        POWERNODE_WEBHOOK_URL: `${receiver.url}/ok`,
        POWERNODE_WEBHOOK_SECRET: SECRET,
        POWERNODE_SIGN_DEV: '1',
        POWERNODE_DATA_DIR: dataDir,
      },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^published ${ref.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}@sha256:[0-9a-f]{64}$`, 'm'));
    const delivery = receiver.deliveries.slice(before)[0]!;
    expect(delivery.signatureValid).toBe(true);
    expect(JSON.parse(delivery.body.toString('utf8'))).toMatchObject({ repository: { full_name: 'acme/from-github-env' }, ref: 'refs/tags/v2.0.0' });
  });

  test('POWERNODE_REPO_FULL_NAME wins over GITEA_REPOSITORY, which wins over GITHUB_REPOSITORY', async () => {
    const ref = `${registry.host}/${uniqueRepository('repo-order')}:v2.1.0`;
    const env = { POWERNODE_DATA_DIR: dataDir, GITEA_REPOSITORY: 'acme/from-gitea', GITHUB_REPOSITORY: 'acme/from-github' };
    const args = ['module', 'publish', moduleDir, '--ref', ref, '--webhook-url', `${receiver.url}/ok`, '--webhook-secret', SECRET, '--dev', '-q'];
    let before = receiver.deliveries.length;
    expect((await runCli(args, { env })).code).toBe(0);
    expect(JSON.parse(receiver.deliveries.slice(before)[0]!.body.toString('utf8'))).toMatchObject({ repository: { full_name: 'acme/from-gitea' } });
    before = receiver.deliveries.length;
    expect((await runCli(args, { env: { ...env, POWERNODE_REPO_FULL_NAME: 'acme/explicit' } })).code).toBe(0);
    expect(JSON.parse(receiver.deliveries.slice(before)[0]!.body.toString('utf8'))).toMatchObject({ repository: { full_name: 'acme/explicit' } });
  });

  test("a webhook 401 (wrong secret) fails with exit 1 and the server's problem detail, without retrying", async () => {
    const ref = `${registry.host}/${uniqueRepository('unauth')}:v1.0.0`;
    const before = receiver.deliveries.length;
    const result = await runCli([...publishArgs(ref, '/ok', 'not-the-secret'), '--json'], { env: { POWERNODE_DATA_DIR: dataDir } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /refused the delivery \(HTTP 401\): unauthenticated: invalid webhook signature or unknown repository; check that the webhook secret/,
    );
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'unauthenticated', details: { status: 401 } } });
    const deliveries = receiver.deliveries.slice(before);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.signatureValid).toBe(false);
  });

  test('a webhook 400 is refused with its detail (exit 1)', async () => {
    const ref = `${registry.host}/${uniqueRepository('malformed')}:v1.0.0`;
    const result = await runCli(publishArgs(ref, '/malformed'), { env: { POWERNODE_DATA_DIR: dataDir } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/HTTP 400\): validation_failed: ref must be refs\/tags\/<tag>/);
  });

  test('a 503 is retried with the same delivery id, and the retry succeeds', async () => {
    const ref = `${registry.host}/${uniqueRepository('flaky')}:v1.0.0`;
    const before = receiver.deliveries.length;
    const result = await runCli(publishArgs(ref, '/flaky'), { env: { POWERNODE_DATA_DIR: dataDir } });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/attempt 1 failed \(HTTP 503: bus_unavailable: the message bus is unavailable; retry\); retrying/);
    const deliveries = receiver.deliveries.slice(before);
    expect(deliveries.map((d) => d.status)).toEqual([503, 202]);
    expect(deliveries[0]!.headers['x-gitea-delivery']).toBe(deliveries[1]!.headers['x-gitea-delivery']);
    expect(deliveries[0]!.body.equals(deliveries[1]!.body)).toBe(true);
  });

  test('a webhook that cannot be reached fails after the attempts asked for (exit 1), the artifact already pushed', async () => {
    const unreachable = `http://127.0.0.1:${CLOSED_LOOPBACK_PORT}/api/v1/system/webhooks/gitea/module`;
    const repository = uniqueRepository('no-webhook');
    const ref = `${registry.host}/${repository}:v1.0.0`;
    const result = await runCli(
      [
        'module',
        'publish',
        moduleDir,
        '--ref',
        ref,
        '--repo-full-name',
        'acme/x',
        '--webhook-url',
        unreachable,
        '--webhook-secret',
        SECRET,
        '--dev',
        '--webhook-attempts',
        '2',
        '--json',
      ],
      { env: { POWERNODE_DATA_DIR: dataDir } },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/did not accept the delivery after 2 attempts \(last: ECONNREFUSED\)/);
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'webhook_unreachable' } });
    expect(await client.headManifest(repository, 'v1.0.0')).toBeDefined();
  });

  test('a tag that is not a semantic version is refused (exit 1) before anything is pushed', async () => {
    const repository = uniqueRepository('latest');
    const result = await runCli(publishArgs(`${registry.host}/${repository}:latest`, '/ok'), { env: { POWERNODE_DATA_DIR: dataDir } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/the tag "latest" of --ref is not a semantic version/);
    expect(await client.headManifest(repository, 'latest')).toBeUndefined();
  });

  test('a missing webhook secret or repository is a usage error (exit 2)', async () => {
    const ref = `${registry.host}/${uniqueRepository('usage')}:v1.0.0`;
    const noSecret = await runCli(['module', 'publish', moduleDir, '--ref', ref, '--repo-full-name', 'acme/x', '--webhook-url', `${receiver.url}/ok`, '--dev']);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toMatch(/--webhook-secret is required \(or set POWERNODE_WEBHOOK_SECRET\)/);
    const noRepo = await runCli(['module', 'publish', moduleDir, '--ref', ref, '--webhook-url', `${receiver.url}/ok`, '--webhook-secret', SECRET, '--dev']);
    expect(noRepo.code).toBe(2);
    expect(noRepo.stderr).toMatch(/--repo-full-name is required/);
  });

  test('an invalid module stops at validation (exit 1): nothing pushed, no webhook', async () => {
    const broken = await writeModule(path.join(dir, 'broken'), 'broken');
    await writeFile(path.join(broken, 'rootfs', 'etc', 'broken', 'leftover.bak'), 'x\n');
    const repository = uniqueRepository('invalid');
    const before = receiver.deliveries.length;
    const result = await runCli(
      [
        'module',
        'publish',
        broken,
        '--ref',
        `${registry.host}/${repository}:v1.0.0`,
        '--repo-full-name',
        'acme/x',
        '--webhook-url',
        `${receiver.url}/ok`,
        '--webhook-secret',
        SECRET,
        '--dev',
      ],
      {
        env: { POWERNODE_DATA_DIR: dataDir },
      },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/rootfs\/etc\/broken\/leftover\.bak is excluded by this mask entry/);
    expect(result.stderr).not.toContain('[2/5] build');
    expect(receiver.deliveries.length).toBe(before);
    expect(await client.headManifest(repository, 'v1.0.0')).toBeUndefined();
  });

  test('a registry that is down fails the push step (exit 1) and the webhook is not called', async () => {
    const before = receiver.deliveries.length;
    const result = await runCli(publishArgs(`127.0.0.1:${CLOSED_LOOPBACK_PORT}/acme/down:v1.0.0`, '/ok'), { env: { POWERNODE_DATA_DIR: dataDir } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('[3/5] push');
    expect(result.stderr).toMatch(/unreachable/);
    expect(receiver.deliveries.length).toBe(before);
  });
});
