import { ASN1Obj } from '@sigstore/core';
import {
  derElement,
  derGeneralizedTime,
  derImplicit,
  derInteger,
  derNamedBits,
  derOctetString,
  derOid,
  derSetOf,
  derUnsignedInteger,
  derX509Time,
  contentOf,
  derIa5String,
} from './der-encoding.js';

const hex = (b: Buffer): string => b.toString('hex');

describe('DER encoding', () => {
  test.each([
    [0n, '020100'],
    [1n, '020101'],
    [127n, '02017f'],
    [128n, '02020080'],
    [256n, '02020100'],
    [-1n, '0201ff'],
    [-128n, '020180'],
    [-129n, '0202ff7f'],
  ])('INTEGER %s is %s, and reads back', (value, expected) => {
    expect(hex(derInteger(value))).toBe(expected);
    expect(ASN1Obj.parseBuffer(derInteger(value) as Buffer<ArrayBuffer>).toInteger()).toBe(value);
  });

  test('unsigned serials keep their value: leading zeros dropped, a zero added before a high bit', () => {
    expect(hex(derUnsignedInteger(Buffer.from('0000ff', 'hex')))).toBe('020200ff');
    expect(hex(derUnsignedInteger(Buffer.from('7f01', 'hex')))).toBe('02027f01');
    expect(hex(derUnsignedInteger(Buffer.from('00', 'hex')))).toBe('020100');
  });

  test.each([
    ['1.2.840.10045.4.3.2', '06082a8648ce3d040302'],
    ['2.5.29.17', '0603551d11'],
    ['1.3.6.1.4.1.57264.1.8', '060a2b0601040183bf300108'],
  ])('OID %s is %s, and reads back', (oid, expected) => {
    expect(hex(derOid(oid))).toBe(expected);
    expect(ASN1Obj.parseBuffer(derOid(oid) as Buffer<ArrayBuffer>).toOID()).toBe(oid);
  });

  test('a first arc of 2 with a large second arc folds into one base-128 subidentifier (X.690 §8.19.4)', () => {
    expect(hex(derOid('2.999.3'))).toBe('0603883703');
  });

  test('refuses OIDs that are not dotted numbers', () => {
    expect(() => derOid('1')).toThrow(/two arcs/);
    expect(() => derOid('1.2.x')).toThrow(/invalid OID arc/);
  });

  test('long lengths use the long form', () => {
    expect(hex(derOctetString(Buffer.alloc(200))).slice(0, 6)).toBe('0481c8');
    expect(hex(derOctetString(Buffer.alloc(300))).slice(0, 8)).toBe('0482012c');
    expect(contentOf(derOctetString(Buffer.alloc(300, 7))).equals(Buffer.alloc(300, 7))).toBe(true);
  });

  test('SET OF sorts its elements by encoding', () => {
    const a = derOctetString(Buffer.from([2]));
    const b = derInteger(5n);
    expect(hex(derSetOf(a, b))).toBe(`3106${hex(b)}${hex(a)}`);
  });

  test('named bits use the minimal form with the unused-bit count', () => {
    expect(hex(derNamedBits([0]))).toBe('03020780');
    expect(hex(derNamedBits([5, 6]))).toBe('03020106');
    expect(hex(derNamedBits([0, 8]))).toBe('0303078080');
  });

  test('X.509 times switch from UTCTime to GeneralizedTime in 2050', () => {
    expect(derX509Time(new Date('2049-12-31T23:59:59Z')).toString('latin1').slice(2)).toBe('491231235959Z');
    expect(derX509Time(new Date('2049-12-31T23:59:59Z'))[0]).toBe(0x17);
    expect(derX509Time(new Date('2050-01-01T00:00:00Z'))[0]).toBe(0x18);
    const generalized = derGeneralizedTime(new Date('2026-02-05T12:55:09.750Z'));
    expect(
      ASN1Obj.parseBuffer(generalized as Buffer<ArrayBuffer>)
        .toDate()
        .toISOString(),
    ).toBe('2026-02-05T12:55:09.000Z');
  });

  test('IMPLICIT tagging keeps the content and replaces the identifier', () => {
    const inner = derOctetString(Buffer.from('abc'));
    expect(hex(derImplicit(0, inner, false))).toBe('8003616263');
    expect(derElement(0x30, Buffer.alloc(0)).equals(Buffer.from([0x30, 0]))).toBe(true);
  });

  test('IA5String refuses non-ASCII', () => {
    expect(() => derIa5String('bücher@example.com')).toThrow(/ASCII/);
  });
});
