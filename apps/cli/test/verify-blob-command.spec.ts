// `powernode verify-blob` on real public-good Sigstore bundles (copied into fixtures/), offline.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateSigningKeyPair, signWithKey } from '@powernode/sigstore';
import { FIXTURES, runCli, temporaryDirectory } from './cli-process.test-support.js';

const VECTORS = path.join(FIXTURES, 'sigstore-vectors');
const TRUSTED_ROOT = path.join(VECTORS, 'trusted_root.json');

interface Expectation {
  valid: boolean;
  san: string;
  issuer: string;
  policy?: { san_regexp: string; issuer_regexp: string };
}

const escape = (literal: string): string => literal.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const vector = (name: string): { dir: string; expect: Expectation } => {
  const dir = path.join(VECTORS, name);
  return { dir, expect: JSON.parse(readFileSync(path.join(dir, 'expect.json'), 'utf8')) as Expectation };
};
const policyArgs = (e: Expectation): string[] => [
  '--certificate-identity-regexp',
  e.policy?.san_regexp ?? escape(e.san),
  '--certificate-oidc-issuer-regexp',
  e.policy?.issuer_regexp ?? escape(e.issuer),
];

let dir: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  ({ dir, remove } = await temporaryDirectory('verify-blob'));
});

afterAll(async () => {
  await remove();
});

describe('powernode verify-blob on the public-good vectors', () => {
  test.each([
    ['01-msg-v0.1-happy', 0, undefined],
    ['02-msg-v0.3-happy', 0, undefined],
    ['04-msg-tampered-artifact', 1, 'signature_invalid'],
    ['05-msg-v0.2-policy-san-mismatch', 1, 'identity_mismatch'],
    ['06-msg-inclusion-proof-corrupted', 1, 'tlog_invalid'],
    ['07-cosign-legacy-oci-keyless', 0, undefined],
  ])('%s: exit %i', async (name, code, reasonCode) => {
    const { dir: vectorDir, expect: e } = vector(name);
    expect(e.valid).toBe(code === 0);
    const result = await runCli([
      'verify-blob',
      path.join(vectorDir, 'artifact'),
      '--bundle',
      path.join(vectorDir, 'bundle.json'),
      '--trusted-root',
      TRUSTED_ROOT,
      ...policyArgs(e),
      '--json',
    ]);
    expect(result.code).toBe(code);
    const verdict = JSON.parse(result.stdout) as Record<string, unknown>;
    if (code === 0) {
      expect(verdict).toMatchObject({ verified: true, signer_kind: 'certificate', signer_identity: e.san, signer_issuer: e.issuer });
      expect(typeof verdict['signed_at']).toBe('string');
    } else {
      expect(verdict).toMatchObject({ verified: false, reason_code: reasonCode });
      expect(result.stderr).toMatch(new RegExp(`^powernode: not verified \\(${reasonCode}\\): `, 'm'));
    }
  });

  test('a DSSE bundle verifies without the artifact; with a wrong subject digest it does not', async () => {
    const { dir: vectorDir, expect: e } = vector('03-dsse-intoto-v0.3-happy');
    const ok = await runCli(['verify-blob', '--bundle', path.join(vectorDir, 'bundle.json'), '--trusted-root', TRUSTED_ROOT, ...policyArgs(e)]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^Verified OK\n/);
    expect(ok.stdout).toContain(`signer     ${e.san} (issuer ${e.issuer})`);
    const withArtifact = await runCli([
      'verify-blob',
      path.join(vectorDir, 'artifact'),
      '--bundle',
      path.join(vectorDir, 'bundle.json'),
      '--trusted-root',
      TRUSTED_ROOT,
      ...policyArgs(e),
    ]);
    expect(withArtifact.code).toBe(0);
    const wrongSubject = await runCli([
      'verify-blob',
      `sha256:${'0'.repeat(64)}`,
      '--bundle',
      path.join(vectorDir, 'bundle.json'),
      '--trusted-root',
      TRUSTED_ROOT,
      ...policyArgs(e),
      '--json',
    ]);
    expect(wrongSubject.code).toBe(1);
    expect(JSON.parse(wrongSubject.stdout)).toMatchObject({ verified: false, reason_code: 'subject_digest_mismatch' });
  });

  test('exact --certificate-identity / --certificate-oidc-issuer are matched literally: a prefix of the SAN is not enough', async () => {
    const { dir: vectorDir, expect: e } = vector('02-msg-v0.3-happy');
    const base = ['verify-blob', path.join(vectorDir, 'artifact'), '--bundle', path.join(vectorDir, 'bundle.json'), '--trusted-root', TRUSTED_ROOT];
    const exact = await runCli([...base, '--certificate-identity', e.san, '--certificate-oidc-issuer', e.issuer]);
    expect(exact.code).toBe(0);
    const prefix = await runCli([...base, '--certificate-identity-regexp', 'https://github\\.com/sigstore-conformance', '--certificate-oidc-issuer', e.issuer]);
    expect(prefix.code).toBe(1);
    expect(prefix.stderr).toMatch(/not verified \(identity_mismatch\)/);
    const wrongIssuer = await runCli([...base, '--certificate-identity', e.san, '--certificate-oidc-issuer', 'https://accounts.google.com']);
    expect(wrongIssuer.code).toBe(1);
    expect(wrongIssuer.stderr).toMatch(/not verified \(issuer_mismatch\)/);
  });

  test('a message-signature bundle without its artifact is not verified (exit 1)', async () => {
    const { dir: vectorDir, expect: e } = vector('02-msg-v0.3-happy');
    const result = await runCli(['verify-blob', '--bundle', path.join(vectorDir, 'bundle.json'), '--trusted-root', TRUSTED_ROOT, ...policyArgs(e)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/not verified \(artifact_invalid\)/);
  });
});

describe('powernode verify-blob with a key pair', () => {
  test('--key verifies a key-pair bundle without a trusted root, and rejects another key', async () => {
    const keys = generateSigningKeyPair();
    const other = generateSigningKeyPair();
    const artifact = Buffer.from('signed with a key pair\n');
    const bundle = await signWithKey({ artifact, privateKeyPem: keys.privateKeyPem });
    await writeFile(path.join(dir, 'artifact.txt'), artifact);
    await writeFile(path.join(dir, 'key.bundle.json'), JSON.stringify(bundle));
    await writeFile(path.join(dir, 'cosign.pub'), keys.publicKeyPem);
    await writeFile(path.join(dir, 'other.pub'), other.publicKeyPem);
    const ok = await runCli([
      'verify-blob',
      path.join(dir, 'artifact.txt'),
      '--bundle',
      path.join(dir, 'key.bundle.json'),
      '--key',
      path.join(dir, 'cosign.pub'),
      '--json',
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ verified: true, signer_kind: 'public_key', signer_issuer: null });
    const wrongKey = await runCli([
      'verify-blob',
      path.join(dir, 'artifact.txt'),
      '--bundle',
      path.join(dir, 'key.bundle.json'),
      '--key',
      path.join(dir, 'other.pub'),
    ]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/not verified \(signature_invalid\)/);
  });
});

describe('powernode verify-blob usage and unreadable input', () => {
  const { dir: vectorDir, expect: e } = vector('02-msg-v0.3-happy');

  test('without --bundle: usage error (exit 2)', async () => {
    const result = await runCli(['verify-blob', path.join(vectorDir, 'artifact'), '--trusted-root', TRUSTED_ROOT, ...policyArgs(e)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--bundle <file>' not specified/);
  });

  test('without an identity policy or --key: usage error (exit 2)', async () => {
    const result = await runCli([
      'verify-blob',
      path.join(vectorDir, 'artifact'),
      '--bundle',
      path.join(vectorDir, 'bundle.json'),
      '--trusted-root',
      TRUSTED_ROOT,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/needs --certificate-identity-regexp/);
  });

  test('without --trusted-root for a keyless bundle: usage error (exit 2); POWERNODE_TRUSTED_ROOT supplies it', async () => {
    const args = ['verify-blob', path.join(vectorDir, 'artifact'), '--bundle', path.join(vectorDir, 'bundle.json'), ...policyArgs(e)];
    const missing = await runCli(args);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--trusted-root <file> is required/);
    const fromEnv = await runCli(args, { env: { POWERNODE_TRUSTED_ROOT: TRUSTED_ROOT } });
    expect(fromEnv.code).toBe(0);
  });

  test('a bundle or trusted root that does not exist, or is not JSON, is exit 1 with the file named', async () => {
    const noBundle = await runCli([
      'verify-blob',
      path.join(vectorDir, 'artifact'),
      '--bundle',
      path.join(dir, 'nope.json'),
      '--trusted-root',
      TRUSTED_ROOT,
      ...policyArgs(e),
    ]);
    expect(noBundle.code).toBe(1);
    expect(noBundle.stderr).toMatch(/cannot read the bundle .*nope\.json: no such file/);
    const noRoot = await runCli([
      'verify-blob',
      path.join(vectorDir, 'artifact'),
      '--bundle',
      path.join(vectorDir, 'bundle.json'),
      '--trusted-root',
      path.join(dir, 'root.json'),
      ...policyArgs(e),
    ]);
    expect(noRoot.code).toBe(1);
    expect(noRoot.stderr).toMatch(/cannot read the trusted root .*root\.json/);
    await writeFile(path.join(dir, 'garbage.json'), 'not json');
    const garbage = await runCli([
      'verify-blob',
      path.join(vectorDir, 'artifact'),
      '--bundle',
      path.join(dir, 'garbage.json'),
      '--trusted-root',
      TRUSTED_ROOT,
      ...policyArgs(e),
      '--json',
    ]);
    expect(garbage.code).toBe(1);
    expect(JSON.parse(garbage.stdout)).toMatchObject({ verified: false, reason_code: 'bundle_malformed' });
  });
});
