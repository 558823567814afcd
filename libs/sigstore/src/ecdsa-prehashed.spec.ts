// node:crypto is the oracle: it signs over messages, we verify over their digests.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { derInteger, derSequence } from './der-encoding.js';
import { verifyEcdsaPrehashed } from './ecdsa-prehashed.js';

const CURVES = [
  { name: 'P-256', hash: 'sha256', order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n },
  { name: 'P-384', hash: 'sha384', order: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n },
] as const;

function signed(curve: (typeof CURVES)[number], privateKey: KeyObject): { digest: Buffer; signature: Buffer } {
  const message = randomBytes(1 + (randomBytes(1)[0]! % 200));
  return { digest: createHash(curve.hash).update(message).digest(), signature: sign(curve.hash, message, privateKey) };
}

function flipBit(bytes: Buffer, index: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[index % copy.length]! ^= 0x01;
  return copy;
}

describe.each(CURVES)('ECDSA over a digest on $name', (curve) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve.name });
  const other = generateKeyPairSync('ec', { namedCurve: curve.name }).publicKey;

  test('accepts every signature node:crypto makes over the message', () => {
    for (let i = 0; i < 25; i++) {
      const { digest, signature } = signed(curve, privateKey);
      expect(verifyEcdsaPrehashed(publicKey, digest, signature)).toBe(true);
    }
  });

  test('refuses a digest with one bit flipped', () => {
    for (let i = 0; i < 10; i++) {
      const { digest, signature } = signed(curve, privateKey);
      expect(verifyEcdsaPrehashed(publicKey, flipBit(digest, i * 3), signature)).toBe(false);
    }
  });

  test('refuses a signature with one bit flipped', () => {
    for (let i = 0; i < 10; i++) {
      const { digest, signature } = signed(curve, privateKey);
      expect(verifyEcdsaPrehashed(publicKey, digest, flipBit(signature, 8 + i))).toBe(false);
    }
  });

  test('refuses another key', () => {
    const { digest, signature } = signed(curve, privateKey);
    expect(verifyEcdsaPrehashed(other, digest, signature)).toBe(false);
  });

  test('refuses out-of-range and malformed signature values', () => {
    const { digest, signature } = signed(curve, privateKey);
    const bad = [
      derSequence(derInteger(0n), derInteger(1n)),
      derSequence(derInteger(1n), derInteger(0n)),
      derSequence(derInteger(curve.order), derInteger(1n)),
      derSequence(derInteger(1n), derInteger(curve.order)),
      derSequence(derInteger(-5n), derInteger(7n)),
      derSequence(derInteger(5n)),
      Buffer.concat([signature, Buffer.from([0])]),
      signature.subarray(0, signature.length - 1),
      Buffer.alloc(0),
      Buffer.from('not der at all'),
    ];
    for (const sig of bad) expect(verifyEcdsaPrehashed(publicKey, digest, sig)).toBe(false);
  });
});

test('a digest longer than the curve order is truncated as ECDSA requires', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const message = Buffer.from('truncation');
  const signature = sign('sha384', message, privateKey);
  expect(verifyEcdsaPrehashed(publicKey, createHash('sha384').update(message).digest(), signature)).toBe(true);
});

test('keys it cannot handle are refused, not thrown on', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  const ed = generateKeyPairSync('ed25519').publicKey;
  const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;
  for (const key of [rsa, ed, k1])
    expect(verifyEcdsaPrehashed(key, Buffer.alloc(32, 1), Buffer.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]))).toBe(false);
});
