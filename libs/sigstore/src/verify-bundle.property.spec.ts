// The bundle parser under arbitrary input: a verdict, never a throw, and no mutated bundle passes.
import fc from 'fast-check';
import { DevSigstore } from './dev-sigstore.js';
import { escapeRegExp, jsonCopy, temporaryDirectory } from './sigstore-fixtures.test-support.js';
import type { IdentityPolicy } from './signer-policy.js';
import { VERIFICATION_REASON_CODES } from './verdict.js';
import { verifyBundle } from './verify-bundle.js';

const USER = 'user@example.com';
const ISSUER = 'https://issuer.example.com';
const policy: IdentityPolicy = { identity_regexp: escapeRegExp(USER), issuer_regexp: escapeRegExp(ISSUER) };
const artifact = Buffer.from('{"schemaVersion":2}');

let dev: DevSigstore;
let signed: unknown;
let remove: () => Promise<void>;

beforeAll(async () => {
  const dir = await temporaryDirectory('verify-property');
  remove = dir.remove;
  dev = await DevSigstore.loadOrCreate(dir.dir);
  signed = dev.sign({ artifact, identity: USER, issuer: ISSUER });
});

afterAll(async () => {
  await remove?.();
});

/** Every path to a leaf (or a container) of a JSON value. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((item, i) => out.push(...paths(item, [...prefix, i])));
  else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) out.push(...paths(item, [...prefix, key]));
  return out;
}

function setAt(root: unknown, at: (string | number)[], replacement: unknown): unknown {
  if (at.length === 0) return replacement;
  const copy = jsonCopy(root) as Record<string | number, unknown>;
  let node = copy;
  for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[at[at.length - 1]!] = replacement;
  return copy;
}

function judge(bundle: unknown): ReturnType<typeof verifyBundle> {
  return verifyBundle({ bundle, artifact, policy, trust: dev.trust() });
}

const isVerdict = (verdict: ReturnType<typeof verifyBundle>): boolean =>
  verdict.verified ? verdict.signer_identity === USER : (VERIFICATION_REASON_CODES as readonly string[]).includes(verdict.reason_code);

describe('verifyBundle on arbitrary input', () => {
  it('the unchanged bundle verifies (the properties below start from a valid one)', () => {
    expect(judge(signed)).toMatchObject({ verified: true, signer_identity: USER });
  });

  it('any JSON value, text or bytes gets a rejection with a known reason code, never a throw', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.string(), fc.uint8Array({ maxLength: 512 })), (input) => {
        const text = typeof input === 'string' ? input : input instanceof Uint8Array ? Buffer.from(input) : input;
        const verdict = judge(text);
        expect(verdict.verified).toBe(false);
        expect(isVerdict(verdict)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a valid bundle with any one field replaced by another value is never accepted as another signature, and never throws', () => {
    const all = paths(signed).filter((p) => p.length > 0);
    fc.assert(
      fc.property(fc.constantFrom(...all), fc.jsonValue({ maxDepth: 2 }), (at, replacement) => {
        const mutated = setAt(signed, at, replacement);
        const verdict = judge(mutated);
        expect(isVerdict(verdict)).toBe(true);
        // The signature and the signing certificate are what a verdict rests on: no replacement there passes.
        // A rewrite elsewhere that still verifies is the same signer's signature (isVerdict checks the identity).
        if (verdict.verified)
          expect(`${at.join('.')} = ${JSON.stringify(replacement)}`).not.toMatch(
            /^(messageSignature\.signature|verificationMaterial\.(certificate|x509CertificateChain))/,
          );
      }),
      { numRuns: 400 },
    );
  });
});
