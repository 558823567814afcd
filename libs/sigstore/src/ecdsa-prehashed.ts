// ECDSA verification over a digest the caller already has. node:crypto only verifies over the message
// (it always hashes first), but a Sigstore message signature over an OCI manifest must be checkable from
// the manifest digest alone. Verification handles public data only, so a plain BigInt implementation has
// no secret to leak through timing.
import type { KeyObject } from 'node:crypto';
import { ASN1Obj } from '@sigstore/core';

interface Curve {
  p: bigint;
  a: bigint;
  b: bigint;
  n: bigint;
  gx: bigint;
  gy: bigint;
  bits: number;
}

const CURVES: Record<string, Curve> = {
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    bits: 256,
  },
  'P-384': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    bits: 384,
  },
};

function mod(value: bigint, m: bigint): bigint {
  const r = value % m;
  return r < 0n ? r + m : r;
}

function modPow(base: bigint, exponent: bigint, m: bigint): bigint {
  let result = 1n;
  let b = mod(base, m);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
  }
  return result;
}

/** Modular inverse for a prime modulus (Fermat). */
function modInverse(value: bigint, prime: bigint): bigint {
  return modPow(value, prime - 2n, prime);
}

// Jacobian coordinates (X, Y, Z) stand for the affine point (X/Z², Y/Z³); Z = 0 is the point at infinity.
type Jacobian = readonly [bigint, bigint, bigint];
const INFINITY: Jacobian = [1n, 1n, 0n];

function double(point: Jacobian, c: Curve): Jacobian {
  const [x, y, z] = point;
  if (z === 0n || y === 0n) return INFINITY;
  const p = c.p;
  const ysq = (y * y) % p;
  const s = (4n * x * ysq) % p;
  const zsq = (z * z) % p;
  const m = mod(3n * x * x + c.a * zsq * zsq, p);
  const nx = mod(m * m - 2n * s, p);
  const ny = mod(m * (s - nx) - 8n * ysq * ysq, p);
  const nz = (2n * y * z) % p;
  return [nx, ny, nz];
}

function add(first: Jacobian, second: Jacobian, c: Curve): Jacobian {
  if (first[2] === 0n) return second;
  if (second[2] === 0n) return first;
  const p = c.p;
  const [x1, y1, z1] = first;
  const [x2, y2, z2] = second;
  const z1sq = (z1 * z1) % p;
  const z2sq = (z2 * z2) % p;
  const u1 = (x1 * z2sq) % p;
  const u2 = (x2 * z1sq) % p;
  const s1 = (y1 * z2sq * z2) % p;
  const s2 = (y2 * z1sq * z1) % p;
  if (u1 === u2) return s1 === s2 ? double(first, c) : INFINITY;
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  const hsq = (h * h) % p;
  const hcu = (hsq * h) % p;
  const nx = mod(r * r - hcu - 2n * u1 * hsq, p);
  const ny = mod(r * (u1 * hsq - nx) - s1 * hcu, p);
  const nz = (h * z1 * z2) % p;
  return [nx, ny, nz];
}

/** u1·G + u2·Q in one pass (Shamir's trick). */
function doubleScalarMultiply(u1: bigint, g: Jacobian, u2: bigint, q: Jacobian, c: Curve): Jacobian {
  const gq = add(g, q, c);
  let acc: Jacobian = INFINITY;
  const bits = Math.max(u1.toString(2).length, u2.toString(2).length);
  for (let i = bits - 1; i >= 0; i--) {
    acc = double(acc, c);
    const b1 = (u1 >> BigInt(i)) & 1n;
    const b2 = (u2 >> BigInt(i)) & 1n;
    if (b1 && b2) acc = add(acc, gq, c);
    else if (b1) acc = add(acc, g, c);
    else if (b2) acc = add(acc, q, c);
  }
  return acc;
}

function bigintFrom(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

/** Strictly parses a DER ECDSA-Sig-Value; undefined when it is not exactly SEQUENCE { INTEGER r, INTEGER s }. */
function parseSignature(signature: Uint8Array): { r: bigint; s: bigint } | undefined {
  try {
    const seq = ASN1Obj.parseBuffer(Buffer.from(signature) as Buffer<ArrayBuffer>);
    if (seq.tag.number !== 0x10 || !seq.tag.constructed || seq.subs.length !== 2) return undefined;
    if (seq.toDER().length !== signature.length) return undefined;
    const [r, s] = seq.subs as [ASN1Obj, ASN1Obj];
    if (!r.tag.isInteger() || !s.tag.isInteger()) return undefined;
    // Negative integers are not valid ECDSA values.
    if ((r.value[0]! & 0x80) !== 0 || (s.value[0]! & 0x80) !== 0) return undefined;
    return { r: bigintFrom(r.value), s: bigintFrom(s.value) };
  } catch {
    return undefined;
  }
}

/** The curve name of an EC public key this verifier supports, or undefined. */
export function prehashedCurveOf(publicKey: KeyObject): string | undefined {
  if (publicKey.asymmetricKeyType !== 'ec') return undefined;
  const jwk = publicKey.export({ format: 'jwk' });
  return typeof jwk.crv === 'string' && jwk.crv in CURVES ? jwk.crv : undefined;
}

/**
 * Verifies a DER ECDSA signature against a message digest (SEC 1 §4.1.4) for a P-256 or P-384 public key.
 * Returns false for any malformed input rather than throwing.
 */
export function verifyEcdsaPrehashed(publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const crv = prehashedCurveOf(publicKey);
  if (crv === undefined) return false;
  const c = CURVES[crv]!;
  const jwk = publicKey.export({ format: 'jwk' });
  const qx = bigintFrom(Buffer.from(jwk.x ?? '', 'base64url'));
  const qy = bigintFrom(Buffer.from(jwk.y ?? '', 'base64url'));
  const sig = parseSignature(signature);
  if (sig === undefined) return false;
  const { r, s } = sig;
  if (r <= 0n || r >= c.n || s <= 0n || s >= c.n) return false;
  // The digest is truncated to the bit length of the group order.
  let e = bigintFrom(digest);
  const excess = digest.length * 8 - c.bits;
  if (excess > 0) e >>= BigInt(excess);
  const w = modInverse(s, c.n);
  const u1 = mod(e * w, c.n);
  const u2 = mod(r * w, c.n);
  const [x, , z] = doubleScalarMultiply(u1, [c.gx, c.gy, 1n], u2, [qx, qy, 1n], c);
  if (z === 0n) return false;
  const zInv = modInverse(z, c.p);
  const affineX = (x * zInv * zInv) % c.p;
  return mod(affineX, c.n) === r;
}
