// Keyless signing over HTTP, against a loopback Fulcio and TSA issuing from a dev Sigstore.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { initializeTLog, rekorHandler } from '@sigstore/mock/dist/rekor/index.js';
import { DevSigstore } from './dev-sigstore.js';
import { startFakeSigstore, unsignedIdentityToken, type FakeSigstoreServer } from './fake-fulcio.test-support.js';
import { signKeyless } from './keyless-signing.js';
import { parseTrustedRoot } from './trusted-root.js';
import { temporaryDirectory } from './sigstore-fixtures.test-support.js';
import { verifyBundle } from './verify-bundle.js';

const artifact = Buffer.from('{"schemaVersion":2}');
const digest = `sha256:${createHash('sha256').update(artifact).digest('hex')}`;
const ISSUER = 'https://oidc.example.com';
const token = unsignedIdentityToken({ iss: ISSUER, sub: 'ignored', email: 'ci@example.com', email_verified: true, aud: 'sigstore' });
const policy = { identity_regexp: 'ci@example\\.com', issuer_regexp: 'https://oidc\\.example\\.com' };

let dev: DevSigstore;
let server: FakeSigstoreServer;
let remove: () => Promise<void>;
let rekorKey: Buffer;

beforeAll(async () => {
  const t = await temporaryDirectory('keyless');
  remove = t.remove;
  dev = await DevSigstore.loadOrCreate(t.dir);
  // A transparency log from @sigstore/mock, served on the same loopback server.
  const tlog = await initializeTLog('https://rekor.local', generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  rekorKey = tlog.publicKey;
  server = await startFakeSigstore(dev, [rekorHandler(tlog)]);
});

/** The dev root plus the loopback transparency log. */
function trustWithLog(): ReturnType<DevSigstore['trust']> {
  const root = dev.trustedRoot();
  root.tlogs = [
    {
      // Checkpoints name the log by its origin, which must match the base URL in the trusted root.
      baseUrl: 'https://rekor.local',
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: rekorKey.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: '2020-01-01T00:00:00.000Z' } },
      logId: { keyId: createHash('sha256').update(rekorKey).digest('base64') },
    },
  ];
  return parseTrustedRoot(root, { name: 'dev-with-log' });
}

afterAll(async () => {
  await server.close();
  await remove();
});

describe('keyless signing', () => {
  test('gets a certificate for the token identity and a timestamp, and the bundle verifies', async () => {
    const before = server.requests.length;
    const bundle = await signKeyless({ artifact, identityToken: token, fulcioURL: server.url, tsaURL: server.url });
    expect(server.requests.slice(before)).toEqual(['POST /api/v2/signingCert', 'POST /api/v1/timestamp']);
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(verifyBundle({ bundle, artifact, policy, trust: dev.trust() })).toMatchObject({
      verified: true,
      signer_identity: 'ci@example.com',
      signer_issuer: ISSUER,
    });
    expect(verifyBundle({ bundle, artifact: { digest }, policy, trust: dev.trust() }).verified).toBe(true);
  });

  test('records the signature in Rekor when asked, and a root with that log requires the entry', async () => {
    const before = server.requests.length;
    const bundle = await signKeyless({ artifact, identityToken: token, fulcioURL: server.url, rekorURL: server.url, tsaURL: server.url });
    expect(server.requests.slice(before)).toContain('POST /api/v1/log/entries');
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);
    const trust = trustWithLog();
    expect(trust.roots[0]!.thresholds.tlog).toBe(1);
    expect(verifyBundle({ bundle, artifact, policy, trust })).toMatchObject({ verified: true, signer_identity: 'ci@example.com' });
    const withoutLog = await signKeyless({ artifact, identityToken: token, fulcioURL: server.url, tsaURL: server.url });
    expect(verifyBundle({ bundle: withoutLog, artifact, policy, trust })).toMatchObject({ verified: false, reason_code: 'tlog_missing' });
  });

  test('a log entry for another signature is tlog_invalid', async () => {
    const trust = trustWithLog();
    const first = await signKeyless({ artifact, identityToken: token, fulcioURL: server.url, rekorURL: server.url });
    const second = JSON.parse(
      JSON.stringify(await signKeyless({ artifact, identityToken: token, fulcioURL: server.url, rekorURL: server.url })),
    ) as typeof first;
    second.verificationMaterial.tlogEntries = first.verificationMaterial.tlogEntries;
    expect(verifyBundle({ bundle: first, artifact, policy, trust }).verified).toBe(true);
    expect(verifyBundle({ bundle: second, artifact, policy, trust })).toMatchObject({ verified: false, reason_code: 'tlog_invalid' });
  });

  test('signs an image digest as a DSSE statement', async () => {
    const bundle = await signKeyless({ subject: { digest, name: 'registry.local/acme/mod' }, identityToken: token, fulcioURL: server.url, tsaURL: server.url });
    expect(verifyBundle({ bundle, artifact: { digest }, policy, trust: dev.trust() }).verified).toBe(true);
    expect(verifyBundle({ bundle, artifact: { digest: `sha256:${'0'.repeat(64)}` }, policy, trust: dev.trust() })).toMatchObject({
      reason_code: 'subject_digest_mismatch',
    });
  });

  test('the certificate carries the identity of the token, not what the signer would like', async () => {
    const other = unsignedIdentityToken({ iss: ISSUER, sub: 'someone-else@example.com' });
    const bundle = await signKeyless({ artifact, identityToken: other, fulcioURL: server.url, tsaURL: server.url });
    expect(verifyBundle({ bundle, artifact, policy, trust: dev.trust() })).toMatchObject({ verified: false, reason_code: 'identity_mismatch' });
  });

  test('a token Fulcio refuses is signing_failed', async () => {
    const noIssuer = unsignedIdentityToken({ sub: 'ci@example.com' });
    await expect(signKeyless({ artifact, identityToken: noIssuer, fulcioURL: server.url, tsaURL: server.url, retries: 0 })).rejects.toMatchObject({
      code: 'signing_failed',
      message: expect.stringContaining('Fulcio'),
    });
  });

  test('an unreachable Fulcio is signing_failed and retryable', async () => {
    await expect(signKeyless({ artifact, identityToken: token, fulcioURL: 'http://127.0.0.1:1', tsaURL: server.url, retries: 0 })).rejects.toMatchObject({
      code: 'signing_failed',
      retryable: true,
    });
  });

  test('an unreachable TSA is signing_failed', async () => {
    await expect(signKeyless({ artifact, identityToken: token, fulcioURL: server.url, tsaURL: 'http://127.0.0.1:1', retries: 0 })).rejects.toMatchObject({
      code: 'signing_failed',
      message: expect.stringContaining('timestamp authority'),
    });
  });

  test('refuses to sign without Rekor or a TSA, or with something that is not a JWT', async () => {
    await expect(signKeyless({ artifact, identityToken: token, fulcioURL: server.url })).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(signKeyless({ artifact, identityToken: 'not-a-jwt', fulcioURL: server.url, tsaURL: server.url })).rejects.toMatchObject({
      code: 'validation_failed',
    });
  });
});
