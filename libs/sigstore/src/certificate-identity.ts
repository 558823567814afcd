import { ASN1Obj, X509Certificate } from '@sigstore/core';
import { OID } from './x509-issuance.js';

/** Fulcio puts some identities (e.g. a username) in an otherName with this type. */
const OID_FULCIO_USERNAME = '1.3.6.1.4.1.57264.1.7';

/** The signer recorded in a Fulcio-style certificate. */
export interface CertificateSigner {
  /** SAN URI, e-mail or Fulcio username; undefined when the certificate names none. */
  identity: string | undefined;
  /** OIDC issuer from extension 1.3.6.1.4.1.57264.1.8, else the deprecated 1.3.6.1.4.1.57264.1.1. */
  issuer: string | undefined;
}

function issuerFromV2(cert: X509Certificate): string | undefined {
  const ext = cert.extension(OID.fulcioIssuerV2);
  if (ext === undefined) return undefined;
  try {
    const value = ASN1Obj.parseBuffer(ext.value as Buffer<ArrayBuffer>);
    // UTF8String, universal tag 12.
    return value.tag.isUniversal() && value.tag.number === 0x0c ? value.value.toString('utf8') : undefined;
  } catch {
    return undefined;
  }
}

/** Reads the signer identity and OIDC issuer out of a signing certificate. */
export function certificateSigner(cert: X509Certificate): CertificateSigner {
  let identity: string | undefined;
  try {
    const san = cert.extSubjectAltName;
    identity = san?.uri ?? san?.rfc822Name ?? san?.otherName(OID_FULCIO_USERNAME);
  } catch {
    identity = undefined;
  }
  const issuer = issuerFromV2(cert) ?? cert.extension(OID.fulcioIssuerV1)?.value.toString('utf8');
  return { identity, issuer };
}
