// Builds RFC 3161 TimeStampResp structures (a CMS SignedData over a TSTInfo), the form Sigstore bundles
// carry in `timestampVerificationData.rfc3161Timestamps[].signedTimestamp`.
import { createHash, sign, type KeyObject } from 'node:crypto';
import { ASN1Obj } from '@sigstore/core';
import {
  derExplicit,
  derGeneralizedTime,
  derImplicit,
  derInteger,
  derOctetString,
  derOid,
  derSequence,
  derSetOf,
  derUnsignedInteger,
  derX509Time,
} from './der-encoding.js';
import { OID as X509_OID } from './x509-issuance.js';

const OID = {
  sha256: '2.16.840.1.101.3.4.2.1',
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
} as const;

/** The TSA policy Sigstore's timestamp authority reports; verifiers do not interpret it. */
export const DEFAULT_TSA_POLICY_OID = '1.3.6.1.4.1.57264.2';

export interface TimestampRequest {
  /** SHA-256 of the bytes being timestamped (for Sigstore: of the signature). */
  imprint: Buffer;
  genTime: Date;
  serialNumber: Buffer;
  nonce?: bigint;
  policyOid?: string;
}

export interface TimestampSigner {
  /** DER of the TSA's signing certificate (end entity with the timeStamping EKU). */
  certificate: Buffer;
  privateKey: KeyObject;
  /** Include the signing certificate in the token (RFC 3161 certReq). */
  includeCertificate?: boolean;
}

/** The issuer Name and serialNumber elements (full DER) of a certificate, for a CMS IssuerAndSerialNumber. */
function issuerAndSerial(certificate: Buffer): { issuer: Buffer; serial: Buffer } {
  const tbs = ASN1Obj.parseBuffer(certificate as Buffer<ArrayBuffer>).subs[0]!;
  // tbsCertificate: [0] version, serialNumber, signature, issuer, ...
  return { serial: tbs.subs[1]!.toDER(), issuer: tbs.subs[3]!.toDER() };
}

/** A signed RFC 3161 TimeStampResp (status granted) over the SHA-256 imprint in `request`. */
export function createTimestampResponse(request: TimestampRequest, signer: TimestampSigner): Buffer {
  if (request.imprint.length !== 32) throw new Error(`a SHA-256 message imprint has 32 bytes, got ${request.imprint.length}`);
  const sha256Algorithm = derSequence(derOid(OID.sha256));
  const imprint = request.imprint;
  const tstInfo = derSequence(
    derInteger(1n),
    derOid(request.policyOid ?? DEFAULT_TSA_POLICY_OID),
    derSequence(sha256Algorithm, derOctetString(imprint)),
    derUnsignedInteger(request.serialNumber),
    derGeneralizedTime(request.genTime),
    derSequence(derInteger(1n)),
    ...(request.nonce === undefined ? [] : [derInteger(request.nonce)]),
  );
  const certHash = createHash('sha256').update(signer.certificate).digest();
  const attributes = [
    derSequence(derOid(OID.contentType), derSetOf(derOid(OID.tstInfo))),
    derSequence(derOid(OID.signingTime), derSetOf(derX509Time(request.genTime))),
    derSequence(derOid(OID.messageDigest), derSetOf(derOctetString(createHash('sha256').update(tstInfo).digest()))),
    // ESS signing-certificate-v2 (RFC 5816): binds the signature to this exact TSA certificate.
    derSequence(derOid(OID.signingCertificateV2), derSetOf(derSequence(derSequence(derSequence(derOctetString(certHash)))))),
  ];
  const signedAttributesSet = derSetOf(...attributes);
  const signature = sign('sha256', signedAttributesSet, signer.privateKey);
  const { issuer, serial } = issuerAndSerial(signer.certificate);
  const signerInfo = derSequence(
    derInteger(1n),
    derSequence(issuer, serial),
    sha256Algorithm,
    derImplicit(0, signedAttributesSet, true),
    derSequence(derOid(X509_OID.ecdsaWithSha256)),
    derOctetString(signature),
  );
  const signedData = derSequence(
    derInteger(3n),
    derSetOf(sha256Algorithm),
    derSequence(derOid(OID.tstInfo), derExplicit(0, derOctetString(tstInfo))),
    ...(signer.includeCertificate ? [derImplicit(0, derSetOf(signer.certificate), true)] : []),
    derSetOf(signerInfo),
  );
  const token = derSequence(derOid(OID.signedData), derExplicit(0, signedData));
  return derSequence(derSequence(derInteger(0n)), token);
}
