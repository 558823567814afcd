// A minimal DER (X.690) encoder: just the types that X.509 certificates and RFC 3161 timestamp tokens need.
// Decoding is left to @sigstore/core's ASN1Obj; keeping the two apart means every structure we build is
// re-read by the same parser the verifier uses.

const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with the given identifier octet and content. */
export function derElement(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

/** SEQUENCE of already-encoded elements, in the given order. */
export function derSequence(...elements: Uint8Array[]): Buffer {
  return derElement(TAG.sequence, Buffer.concat(elements));
}

/** SET OF: DER requires the elements sorted by their encodings. */
export function derSetOf(...elements: Uint8Array[]): Buffer {
  const sorted = [...elements].map((e) => Buffer.from(e)).sort(Buffer.compare);
  return derElement(TAG.set, Buffer.concat(sorted));
}

/** INTEGER from a bigint (two's complement, minimal length). */
export function derInteger(value: bigint): Buffer {
  if (value === 0n) return derElement(TAG.integer, Buffer.from([0]));
  const bytes: number[] = [];
  let rest = value;
  // Emit bytes until the remaining value is pure sign extension of the last byte's top bit.
  for (;;) {
    const byte = Number(rest & 0xffn);
    bytes.unshift(byte);
    rest >>= 8n;
    if ((rest === 0n && (byte & 0x80) === 0) || (rest === -1n && (byte & 0x80) !== 0)) break;
  }
  return derElement(TAG.integer, Buffer.from(bytes));
}

/** INTEGER from unsigned big-endian magnitude bytes (serial numbers). */
export function derUnsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = Buffer.from(magnitude.subarray(start));
  const content = trimmed.length > 0 && (trimmed[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
  return derElement(TAG.integer, content.length === 0 ? Buffer.from([0]) : content);
}

/** OBJECT IDENTIFIER from dotted notation. */
export function derOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((arc) => {
    if (!/^\d+$/.test(arc)) throw new Error(`invalid OID arc "${arc}" in ${dotted}`);
    return BigInt(arc);
  });
  if (arcs.length < 2) throw new Error(`an OID needs at least two arcs: ${dotted}`);
  const body: number[] = [];
  const pushBase128 = (value: bigint): void => {
    const chunk: number[] = [Number(value & 0x7fn)];
    for (let rest = value >> 7n; rest > 0n; rest >>= 7n) chunk.unshift(Number(rest & 0x7fn) | 0x80);
    body.push(...chunk);
  };
  pushBase128(arcs[0]! * 40n + arcs[1]!);
  for (const arc of arcs.slice(2)) pushBase128(arc);
  return derElement(TAG.oid, Buffer.from(body));
}

/** OCTET STRING. */
export function derOctetString(bytes: Uint8Array): Buffer {
  return derElement(TAG.octetString, bytes);
}

/** BIT STRING whose content is whole bytes (keys, signatures). */
export function derBitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  return derElement(TAG.bitString, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/** BIT STRING of named bits (bit 0 = most significant bit of the first byte), minimal DER form. */
export function derNamedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return derBitString(Buffer.alloc(0));
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[Math.floor(bit / 8)]! |= 0x80 >> (bit % 8);
  return derBitString(bytes, 7 - (highest % 8));
}

/** NULL. */
export function derNull(): Buffer {
  return derElement(TAG.null, Buffer.alloc(0));
}

/** BOOLEAN (DER: TRUE is 0xff). */
export function derBoolean(value: boolean): Buffer {
  return derElement(TAG.boolean, Buffer.from([value ? 0xff : 0x00]));
}

/** UTF8String. */
export function derUtf8String(text: string): Buffer {
  return derElement(TAG.utf8String, Buffer.from(text, 'utf8'));
}

/** IA5String (ASCII: e-mail addresses and URIs in GeneralName are IA5 by definition). */
export function derIa5String(text: string): Buffer {
  if ([...text].some((ch) => ch.codePointAt(0)! > 0x7f)) throw new Error(`IA5String must be ASCII: ${text}`);
  return derElement(TAG.ia5String, Buffer.from(text, 'ascii'));
}

function timeDigits(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new Error('cannot encode an invalid date');
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
}

/** GeneralizedTime at whole-second precision (RFC 5280 and RFC 3161 both forbid fractions here). */
export function derGeneralizedTime(date: Date): Buffer {
  return derElement(TAG.generalizedTime, Buffer.from(`${String(date.getUTCFullYear()).padStart(4, '0')}${timeDigits(date)}`, 'ascii'));
}

/** X.509 Time: UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
export function derX509Time(date: Date): Buffer {
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) {
    return derElement(TAG.utcTime, Buffer.from(`${String(year % 100).padStart(2, '0')}${timeDigits(date)}`, 'ascii'));
  }
  return derGeneralizedTime(date);
}

/** [n] EXPLICIT: a constructed context-specific tag wrapping one encoded element. */
export function derExplicit(tagNumber: number, element: Uint8Array): Buffer {
  return derElement(0xa0 | tagNumber, element);
}

/** [n] IMPLICIT: replaces the identifier octet of an encoded element, keeping its content. */
export function derImplicit(tagNumber: number, element: Uint8Array, constructed: boolean): Buffer {
  const content = contentOf(element);
  return derElement((constructed ? 0xa0 : 0x80) | tagNumber, content);
}

/** The content octets of one encoded element (what follows its identifier and length). */
export function contentOf(element: Uint8Array): Buffer {
  const buf = Buffer.from(element);
  const first = buf[1]!;
  const lengthBytes = first < 0x80 ? 0 : first & 0x7f;
  return buf.subarray(2 + lengthBytes);
}
