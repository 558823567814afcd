import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { DevSigstore } from './dev-sigstore.js';
import { generateSigningKeyPair, signWithKey } from './key-signing.js';
import { publicGoodTrust, temporaryDirectory } from './sigstore-fixtures.test-support.js';
import { publicKeyFingerprint } from './signer-policy.js';
import { verifyBundle } from './verify-bundle.js';

const artifact = Buffer.from('{"layers":[]}');
const digest = `sha256:${createHash('sha256').update(artifact).digest('hex')}`;

let dev: DevSigstore;
let remove: () => Promise<void>;
beforeAll(async () => {
  const t = await temporaryDirectory('keys');
  remove = t.remove;
  dev = await DevSigstore.loadOrCreate(t.dir);
});
afterAll(() => remove());

describe('key-pair signatures', () => {
  const pair = generateSigningKeyPair();
  const policy = { public_key_pem: pair.publicKeyPem };

  test('verify with the public key, naming the key by its fingerprint', async () => {
    const bundle = await signWithKey({ artifact, privateKeyPem: pair.privateKeyPem });
    expect(bundle.verificationMaterial).toMatchObject({ publicKey: { hint: publicKeyFingerprint(createPublicKey(pair.publicKeyPem)) } });
    expect(verifyBundle({ bundle, artifact, policy, trust: publicGoodTrust() })).toEqual({
      verified: true,
      signer_kind: 'public_key',
      signer_identity: publicKeyFingerprint(createPublicKey(pair.publicKeyPem)),
      signer_issuer: null,
      signed_at: null,
    });
  });

  test('verify from the artifact digest alone', async () => {
    const bundle = await signWithKey({ artifact, privateKeyPem: pair.privateKeyPem });
    expect(verifyBundle({ bundle, artifact: { digest }, policy, trust: publicGoodTrust() }).verified).toBe(true);
  });

  test('are plain ECDSA P-256 / SHA-256 signatures over the artifact, as cosign verify-blob --key expects', async () => {
    const bundle = await signWithKey({ artifact, privateKeyPem: pair.privateKeyPem });
    const signature = Buffer.from((bundle as { messageSignature: { signature: string } }).messageSignature.signature, 'base64');
    expect(verify('sha256', artifact, pair.publicKeyPem, signature)).toBe(true);
  });

  test('are refused for another key', async () => {
    const bundle = await signWithKey({ artifact, privateKeyPem: pair.privateKeyPem });
    const stranger = generateSigningKeyPair();
    expect(verifyBundle({ bundle, artifact, policy: { public_key_pem: stranger.publicKeyPem }, trust: publicGoodTrust() })).toMatchObject({
      verified: false,
      reason_code: 'signature_invalid',
    });
  });

  test('are refused for another artifact', async () => {
    const bundle = await signWithKey({ artifact, privateKeyPem: pair.privateKeyPem });
    expect(verifyBundle({ bundle, artifact: Buffer.from('{"layers":[1]}'), policy, trust: publicGoodTrust() })).toMatchObject({
      verified: false,
      reason_code: 'signature_invalid',
    });
  });

  test('carry a signing time when countersigned by a timestamp authority the verifier trusts', async () => {
    const bundle = await signWithKey({ artifact, privateKeyPem: pair.privateKeyPem, timestampAuthority: dev });
    const verdict = verifyBundle({ bundle, artifact, policy, trust: dev.trust() });
    expect(verdict).toMatchObject({ verified: true, signer_kind: 'public_key' });
    expect(Math.abs(Date.parse((verdict as { signed_at: string }).signed_at) - Date.now())).toBeLessThan(24 * 3600 * 1000);
  });

  test('are refused when countersigned by a timestamp authority the verifier does not trust', async () => {
    const bundle = await signWithKey({ artifact, privateKeyPem: pair.privateKeyPem, timestampAuthority: dev });
    expect(verifyBundle({ bundle, artifact, policy, trust: publicGoodTrust() })).toMatchObject({ verified: false, reason_code: 'timestamp_invalid' });
  });

  test('can sign an image by its manifest digest (DSSE statement)', async () => {
    const bundle = await signWithKey({ subject: { digest }, privateKeyPem: pair.privateKeyPem });
    expect(verifyBundle({ bundle, artifact: { digest }, policy, trust: publicGoodTrust() }).verified).toBe(true);
    expect(verifyBundle({ bundle, artifact: { digest: `sha256:${'9'.repeat(64)}` }, policy, trust: publicGoodTrust() })).toMatchObject({
      reason_code: 'subject_digest_mismatch',
    });
  });
});

describe('private keys', () => {
  test('an encrypted PKCS#8 key is read with its passphrase', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const encrypted = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'correct horse' }) as string;
    const bundle = await signWithKey({ artifact, privateKeyPem: encrypted, passphrase: 'correct horse' });
    expect(
      verifyBundle({ bundle, artifact, policy: { public_key_pem: publicKey.export({ type: 'spki', format: 'pem' }) as string }, trust: publicGoodTrust() })
        .verified,
    ).toBe(true);
    await expect(signWithKey({ artifact, privateKeyPem: encrypted, passphrase: 'wrong' })).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(signWithKey({ artifact, privateKeyPem: encrypted })).rejects.toMatchObject({ code: 'validation_failed' });
  });

  test('a SEC 1 "EC PRIVATE KEY" is accepted', async () => {
    const { privateKeyPem, publicKeyPem } = generateSigningKeyPair();
    const sec1 = createPrivateKey(privateKeyPem).export({ type: 'sec1', format: 'pem' }) as string;
    expect(sec1).toContain('BEGIN EC PRIVATE KEY');
    const bundle = await signWithKey({ artifact, privateKeyPem: sec1 });
    expect(verifyBundle({ bundle, artifact, policy: { public_key_pem: publicKeyPem }, trust: publicGoodTrust() }).verified).toBe(true);
  });

  test.each([
    ['an RSA key', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, /ECDSA P-256/],
    ['a P-384 key', generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, /ECDSA P-256/],
    ['text that is not a key', 'hello', /cannot be read/],
    [
      "cosign's encrypted key format",
      '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n',
      /cosign-import-key-pair|import-key-pair/,
    ],
  ])('%s is refused with a clear message', async (_what, privateKeyPem, message) => {
    await expect(signWithKey({ artifact, privateKeyPem })).rejects.toMatchObject({ code: 'validation_failed', message: expect.stringMatching(message) });
  });
});
