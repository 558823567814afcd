// Issues X.509 v3 certificates with node:crypto keys: the dev CA root, its Fulcio-like signing leaves and
// the dev timestamp authority's certificates. Only ECDSA (P-256 / P-384) issuers are supported, which is
// what Sigstore itself uses.
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { ASN1Obj } from '@sigstore/core';
import {
  derBoolean,
  derElement,
  derExplicit,
  derIa5String,
  derInteger,
  derNamedBits,
  derOctetString,
  derOid,
  derSequence,
  derSetOf,
  derBitString,
  derUnsignedInteger,
  derUtf8String,
  derX509Time,
} from './der-encoding.js';

export const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  ekuCodeSigning: '1.3.6.1.5.5.7.3.3',
  ekuTimeStamping: '1.3.6.1.5.5.7.3.8',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  /** Fulcio's deprecated issuer extension: the raw issuer URL bytes. */
  fulcioIssuerV1: '1.3.6.1.4.1.57264.1.1',
  /** Fulcio's issuer extension: a DER UTF8String. */
  fulcioIssuerV2: '1.3.6.1.4.1.57264.1.8',
} as const;

/** Key usage bits (RFC 5280 §4.2.1.3). */
export const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

export interface DistinguishedName {
  commonName: string;
  organization?: string;
}

/** DER Name (RDNSequence); an empty name encodes as an empty SEQUENCE, as Fulcio's leaves have. */
export function encodeName(name: DistinguishedName | null): Buffer {
  if (name === null) return derSequence();
  const rdns: Buffer[] = [];
  if (name.organization !== undefined) rdns.push(derSetOf(derSequence(derOid(OID.organization), derUtf8String(name.organization))));
  rdns.push(derSetOf(derSequence(derOid(OID.commonName), derUtf8String(name.commonName))));
  return derSequence(...rdns);
}

/** One certificate extension, already DER-encoded as its extnValue content. */
export interface CertificateExtension {
  oid: string;
  critical: boolean;
  value: Buffer;
}

function extension(oid: string, critical: boolean, value: Buffer): CertificateExtension {
  return { oid, critical, value };
}

/** basicConstraints: CA with an optional path length, or end entity. */
export function basicConstraintsExtension(ca: boolean, pathLength?: number): CertificateExtension {
  const fields: Buffer[] = [];
  if (ca) fields.push(derBoolean(true));
  if (ca && pathLength !== undefined) fields.push(derInteger(BigInt(pathLength)));
  return extension(OID.basicConstraints, true, derSequence(...fields));
}

/** keyUsage with the given bit numbers. */
export function keyUsageExtension(bits: readonly number[]): CertificateExtension {
  return extension(OID.keyUsage, true, derNamedBits(bits));
}

/** extKeyUsage; a TSA certificate must mark it critical with only timeStamping (RFC 3161 §2.3). */
export function extKeyUsageExtension(oids: readonly string[], critical: boolean): CertificateExtension {
  return extension(OID.extKeyUsage, critical, derSequence(...oids.map(derOid)));
}

/** The signer identity Fulcio puts in the SAN: an e-mail (rfc822Name) or a URI. */
export type SignerIdentityName = { type: 'email'; value: string } | { type: 'uri'; value: string };

/** Classifies an identity string the way Fulcio does: an address without a scheme is an e-mail. */
export function signerIdentityName(identity: string): SignerIdentityName {
  return /^[^:/@\s]+@[^:/@\s]+$/.test(identity) ? { type: 'email', value: identity } : { type: 'uri', value: identity };
}

/** subjectAltName with one e-mail or URI; critical because Fulcio leaves have an empty subject. */
export function subjectAltNameExtension(name: SignerIdentityName): CertificateExtension {
  const tag = name.type === 'email' ? 0x81 : 0x86;
  const general = derElement(tag, derIa5String(name.value).subarray(2));
  return extension(OID.subjectAltName, true, derSequence(general));
}

/** subjectKeyIdentifier (RFC 5280 method 1: SHA-1 of the public key bits). */
export function subjectKeyIdentifierExtension(publicKey: KeyObject): CertificateExtension {
  return extension(OID.subjectKeyIdentifier, false, derOctetString(keyIdentifier(publicKey)));
}

/** authorityKeyIdentifier pointing at the issuer's key. */
export function authorityKeyIdentifierExtension(issuerPublicKey: KeyObject): CertificateExtension {
  return extension(OID.authorityKeyIdentifier, false, derSequence(derElement(0x80, keyIdentifier(issuerPublicKey))));
}

/** Both Fulcio issuer extensions, so old and new verifiers read the same issuer. */
export function fulcioIssuerExtensions(issuer: string): CertificateExtension[] {
  return [extension(OID.fulcioIssuerV1, false, Buffer.from(issuer, 'utf8')), extension(OID.fulcioIssuerV2, false, derUtf8String(issuer))];
}

/** SHA-1 over the subjectPublicKey BIT STRING content of a key's SPKI. */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = ASN1Obj.parseBuffer(publicKey.export({ type: 'spki', format: 'der' }) as Buffer<ArrayBuffer>);
  const bits = spki.subs[1]!.value.subarray(1);
  return createHash('sha1').update(bits).digest();
}

/** What goes into a certificate, apart from the issuer's signature. */
export interface CertificateTemplate {
  serialNumber?: Buffer;
  issuer: DistinguishedName;
  subject: DistinguishedName | null;
  notBefore: Date;
  notAfter: Date;
  subjectPublicKey: KeyObject;
  extensions: CertificateExtension[];
}

function signatureScheme(issuerKey: KeyObject): { oid: string; hash: 'sha256' | 'sha384' } {
  const curve = issuerKey.asymmetricKeyDetails?.namedCurve;
  if (issuerKey.asymmetricKeyType !== 'ec') throw new Error(`certificate issuer key must be ECDSA, got ${issuerKey.asymmetricKeyType}`);
  if (curve === 'prime256v1') return { oid: OID.ecdsaWithSha256, hash: 'sha256' };
  if (curve === 'secp384r1') return { oid: OID.ecdsaWithSha384, hash: 'sha384' };
  throw new Error(`certificate issuer key must be on P-256 or P-384, got ${curve}`);
}

/** A random positive 16-byte serial (RFC 5280 allows up to 20 octets). */
export function randomSerialNumber(): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  return serial;
}

/** Signs a certificate template with the issuer's private key and returns the certificate DER. */
export function issueCertificate(template: CertificateTemplate, issuerPrivateKey: KeyObject): Buffer {
  const scheme = signatureScheme(issuerPrivateKey);
  const algorithm = derSequence(derOid(scheme.oid));
  const extensions = template.extensions.map((ext) => derSequence(derOid(ext.oid), ...(ext.critical ? [derBoolean(true)] : []), derOctetString(ext.value)));
  const tbs = derSequence(
    derExplicit(0, derInteger(2n)),
    derUnsignedInteger(template.serialNumber ?? randomSerialNumber()),
    algorithm,
    encodeName(template.issuer),
    derSequence(derX509Time(template.notBefore), derX509Time(template.notAfter)),
    encodeName(template.subject),
    template.subjectPublicKey.export({ type: 'spki', format: 'der' }) as Buffer,
    derExplicit(3, derSequence(...extensions)),
  );
  const signature = sign(scheme.hash, tbs, issuerPrivateKey);
  return derSequence(tbs, algorithm, derBitString(signature));
}
