import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { X509Certificate as SigstoreCertificate } from '@sigstore/core';
import { certificateSigner } from './certificate-identity.js';
import { DevSigstore } from './dev-sigstore.js';
import { temporaryDirectory } from './sigstore-fixtures.test-support.js';
import { loadTrustedRoot } from './trusted-root.js';
import { verifyBundle } from './verify-bundle.js';

const artifact = Buffer.from('dev sigstore artifact');
const policy = { identity_regexp: 'https://ci\\.example\\.com/acme/build', issuer_regexp: 'https://ci\\.example\\.com' };
const identity = 'https://ci.example.com/acme/build';
const issuer = 'https://ci.example.com';

let removers: Array<() => Promise<void>> = [];
async function dataDir(label: string): Promise<string> {
  const t = await temporaryDirectory(label);
  removers.push(t.remove);
  return t.dir;
}
afterAll(async () => {
  await Promise.all(removers.map((r) => r()));
  removers = [];
});

describe('DevSigstore.loadOrCreate', () => {
  test('creates the CA and TSA under <dataDir>/dev-sigstore with private keys readable by the owner only', async () => {
    const dir = await dataDir('create');
    const dev = await DevSigstore.loadOrCreate(dir);
    expect(dev.directory).toBe(path.join(dir, 'dev-sigstore'));
    expect((await stat(dev.directory)).mode & 0o777).toBe(0o700);
    for (const key of ['ca.key.pem', 'tsa.key.pem']) {
      expect((await stat(path.join(dev.directory, key))).mode & 0o777).toBe(0o600);
    }
    const written = JSON.parse(await readFile(dev.trustedRootPath, 'utf8')) as unknown;
    expect(written).toEqual(dev.trustedRoot());
    expect(dev.trustedRoot()).toMatchObject({ tlogs: [], ctlogs: [] });
  });

  test('loads the same authorities on the next start, so earlier signatures keep verifying', async () => {
    const dir = await dataDir('reload');
    const first = await DevSigstore.loadOrCreate(dir);
    const bundle = first.sign({ artifact, identity, issuer });
    const second = await DevSigstore.loadOrCreate(dir);
    expect(second.trustedRoot()).toEqual(first.trustedRoot());
    expect(verifyBundle({ bundle, artifact, policy, trust: second.trust() }).verified).toBe(true);
  });

  test('concurrent first starts agree on one set of authorities', async () => {
    const dir = await dataDir('race');
    const all = await Promise.all(Array.from({ length: 6 }, () => DevSigstore.loadOrCreate(dir)));
    const roots = all.map((d) => JSON.stringify(d.trustedRoot()));
    expect(new Set(roots).size).toBe(1);
    const leftovers = (await import('node:fs')).readdirSync(dir).filter((f) => f.includes('.tmp-'));
    expect(leftovers).toEqual([]);
  });

  test('the trusted root file verifies dev signatures when loaded by path, as verify-blob does', async () => {
    const dev = await DevSigstore.loadOrCreate(await dataDir('by-path'));
    const bundle = dev.sign({ artifact, identity, issuer });
    expect(verifyBundle({ bundle, artifact, policy, trust: loadTrustedRoot(dev.trustedRootPath) }).verified).toBe(true);
  });

  test('refuses an incomplete directory instead of silently re-keying', async () => {
    const dir = await dataDir('incomplete');
    const dev = await DevSigstore.loadOrCreate(dir);
    await rm(path.join(dev.directory, 'tsa.key.pem'));
    await expect(DevSigstore.loadOrCreate(dir)).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringMatching(/incomplete/) });
  });

  test('refuses a key that does not belong to its certificate', async () => {
    const dir = await dataDir('damaged');
    const dev = await DevSigstore.loadOrCreate(dir);
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await writeFile(path.join(dev.directory, 'ca.key.pem'), stranger);
    await expect(DevSigstore.loadOrCreate(dir)).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringMatching(/damaged/) });
  });

  test('reports an unwritable data directory', async () => {
    const dir = await dataDir('unwritable');
    const file = path.join(dir, 'a-file');
    await writeFile(file, '');
    await expect(DevSigstore.loadOrCreate(path.join(file, 'below'))).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringMatching(/writable directory/),
    });
  });
});

describe('dev signing certificates', () => {
  let dev: DevSigstore;
  beforeAll(async () => {
    dev = await DevSigstore.loadOrCreate(await dataDir('certs'));
  });

  test.each([
    ['a workflow URI', 'https://github.com/acme/mod/.github/workflows/build.yaml@refs/tags/v1', 'uri'],
    ['an e-mail', 'user@example.com', 'email'],
  ])('name %s in the SAN and the issuer in both Fulcio extensions', (_what, who, kind) => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = dev.issueSigningCertificate({ publicKey: key.publicKey, identity: who, issuer: 'https://token.actions.githubusercontent.com' });
    const cert = SigstoreCertificate.parse(der as Buffer<ArrayBuffer>);
    expect(certificateSigner(cert)).toEqual({ identity: who, issuer: 'https://token.actions.githubusercontent.com' });
    expect(kind === 'uri' ? cert.extSubjectAltName?.uri : cert.extSubjectAltName?.rfc822Name).toBe(who);
    const node = new X509Certificate(der);
    expect(node.verify(new X509Certificate(dev.caCertificate).publicKey)).toBe(true);
    expect(new Date(node.validTo).getTime() - new Date(node.validFrom).getTime()).toBe(11 * 60 * 1000);
    expect(node.keyUsage).toEqual(['1.3.6.1.5.5.7.3.3']);
  });

  test.each([
    ['an empty identity', '', 'https://issuer'],
    ['an identity with spaces', 'user name@example.com', 'https://issuer'],
    ['a non-ASCII identity', 'bücher@example.com', 'https://issuer'],
    ['an empty issuer', 'user@example.com', ''],
  ])('refuses %s', (_what, who, iss) => {
    expect(() => dev.sign({ artifact, identity: who, issuer: iss })).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });

  test('refuses a timestamp request that is not a SHA-256 digest', () => {
    expect(() => dev.timestampDigest(Buffer.alloc(20))).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });
});

// OpenSSL, an independent implementation, as the oracle for the certificates and timestamps we encode.
const openssl = spawnSync('openssl', ['version']).status === 0;
(openssl ? describe : describe.skip)('OpenSSL accepts what the dev Sigstore issues', () => {
  let dev: DevSigstore;
  let dir: string;
  beforeAll(async () => {
    dir = await dataDir('openssl');
    dev = await DevSigstore.loadOrCreate(dir);
  });

  test('a signing certificate chains to the dev CA', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const leaf = path.join(dir, 'leaf.pem');
    await writeFile(
      leaf,
      new X509Certificate(dev.issueSigningCertificate({ publicKey: key.publicKey, identity: 'user@example.com', issuer: 'https://issuer' })).toString(),
    );
    const out = execFileSync('openssl', ['verify', '-CAfile', path.join(dev.directory, 'ca.crt.pem'), leaf], { encoding: 'utf8' });
    expect(out.trim()).toBe(`${leaf}: OK`);
  });

  test('a timestamp verifies with openssl ts against the TSA root', async () => {
    const data = Buffer.from('signature bytes to timestamp');
    await writeFile(path.join(dir, 'data.bin'), data);
    await writeFile(path.join(dir, 'reply.tsr'), dev.timestamp(data));
    const result = spawnSync(
      'openssl',
      [
        'ts',
        '-verify',
        '-in',
        path.join(dir, 'reply.tsr'),
        '-data',
        path.join(dir, 'data.bin'),
        '-CAfile',
        path.join(dev.directory, 'tsa-root.crt.pem'),
        '-untrusted',
        path.join(dev.directory, 'tsa.crt.pem'),
      ],
      { encoding: 'utf8' },
    );
    expect(result.stdout).toContain('Verification: OK');
    await writeFile(path.join(dir, 'data.bin'), Buffer.from('other bytes'));
    const refused = spawnSync(
      'openssl',
      [
        'ts',
        '-verify',
        '-in',
        path.join(dir, 'reply.tsr'),
        '-data',
        path.join(dir, 'data.bin'),
        '-CAfile',
        path.join(dev.directory, 'tsa-root.crt.pem'),
        '-untrusted',
        path.join(dev.directory, 'tsa.crt.pem'),
      ],
      { encoding: 'utf8' },
    );
    expect(refused.stdout).not.toContain('Verification: OK');
  });
});
