// A local Sigstore for development and CI: a certificate authority that issues Fulcio-like short-lived
// signing certificates (SAN identity + OIDC issuer extension) and an RFC 3161 timestamp authority, kept
// under `<dataDir>/dev-sigstore/`. No transparency log: its trusted root asks for timestamps only.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate as NodeX509Certificate,
  type KeyObject,
} from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { prepareSignature, withWitnesses, type SerializedBundle, type SignContent } from './bundle-assembly.js';
import { createTimestampResponse } from './rfc3161-response.js';
import type { TimestampAuthority } from './timestamp-authority.js';
import { parseTrustedRoot, TRUSTED_ROOT_MEDIA_TYPE, type SigstoreTrust } from './trusted-root.js';
import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  extKeyUsageExtension,
  fulcioIssuerExtensions,
  issueCertificate,
  KEY_USAGE,
  keyUsageExtension,
  OID,
  signerIdentityName,
  subjectAltNameExtension,
  subjectKeyIdentifierExtension,
  type DistinguishedName,
} from './x509-issuance.js';

const DIRECTORY = 'dev-sigstore';
const FILES = {
  caKey: 'ca.key.pem',
  caCert: 'ca.crt.pem',
  tsaKey: 'tsa.key.pem',
  tsaCert: 'tsa.crt.pem',
  tsaRootCert: 'tsa-root.crt.pem',
  trustedRoot: 'trusted_root.json',
} as const;

const CA_NAME: DistinguishedName = { organization: 'Powernode', commonName: 'Powernode dev Sigstore CA' };
const TSA_ROOT_NAME: DistinguishedName = { organization: 'Powernode', commonName: 'Powernode dev timestamp root' };
const TSA_NAME: DistinguishedName = { organization: 'Powernode', commonName: 'Powernode dev timestamp authority' };

/** Authorities live ten years; signing certificates ten minutes, like Fulcio's. */
const AUTHORITY_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000;
const SIGNING_CERT_LIFETIME_MS = 10 * 60 * 1000;
/** Back-dating absorbs clock skew between the machine that signs and the one that verifies. */
const BACKDATE_MS = 60 * 1000;

export type DevSignInput = SignContent & {
  /** The signer identity put in the certificate SAN: a URI (e.g. a CI workflow) or an e-mail. */
  identity: string;
  /** The OIDC issuer put in the Fulcio issuer extensions. */
  issuer: string;
  /** Signing time; defaults to now. */
  at?: Date;
};

function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function pem(der: Buffer): string {
  return new NodeX509Certificate(der).toString();
}

function derFromPem(text: string): Buffer {
  return Buffer.from(new NodeX509Certificate(text).raw);
}

function checkSignerField(field: 'identity' | 'issuer', value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new PowernodeError('validation_failed', `dev signing needs a non-empty ${field}`, { details: { field } });
  }
  if (!/^[\x21-\x7e]+$/.test(value)) {
    throw new PowernodeError('validation_failed', `dev signing ${field} ${JSON.stringify(value)} must be printable ASCII without spaces (a URI or an e-mail)`, {
      details: { field },
    });
  }
  return value;
}

/** The local certificate authority and timestamp authority, loaded once. */
export class DevSigstore implements TimestampAuthority {
  private constructor(
    /** The directory holding the keys and certificates. */
    readonly directory: string,
    private readonly caKey: KeyObject,
    private readonly caCert: Buffer,
    private readonly tsaKey: KeyObject,
    private readonly tsaCert: Buffer,
    private readonly tsaRootCert: Buffer,
  ) {}

  /**
   * Loads the dev Sigstore from `<dataDir>/dev-sigstore/`, creating it on first use. Safe against
   * concurrent first starts: the set is generated in a private directory and renamed into place.
   */
  static async loadOrCreate(dataDir: string, options: { now?: Date } = {}): Promise<DevSigstore> {
    const directory = path.join(path.resolve(dataDir), DIRECTORY);
    try {
      const existing = await DevSigstore.load(directory);
      if (existing !== undefined) return existing;
      await mkdir(path.dirname(directory), { recursive: true });
      const staging = `${directory}.tmp-${randomBytes(6).toString('hex')}`;
      await mkdir(staging, { mode: 0o700 });
      try {
        await DevSigstore.generate(staging, options.now ?? new Date());
        await rename(staging, directory);
      } catch (cause) {
        await rm(staging, { recursive: true, force: true });
        const code = (cause as NodeJS.ErrnoException).code;
        // Another process won the race: use its set.
        if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw cause;
      }
      const created = await DevSigstore.load(directory);
      if (created === undefined) throw new Error('the directory vanished while it was being created');
      return created;
    } catch (cause) {
      if (cause instanceof PowernodeError) throw cause;
      throw new PowernodeError(
        'config_invalid',
        `cannot create or load the dev Sigstore in ${directory}: ${(cause as Error).message}; check that the data directory (POWERNODE_DATA_DIR) is a writable directory`,
        {
          cause,
          details: { path: directory },
        },
      );
    }
  }

  private static async load(directory: string): Promise<DevSigstore | undefined> {
    try {
      await stat(directory);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw cause;
    }
    let texts: Record<keyof typeof FILES, string>;
    try {
      const entries = await Promise.all(Object.entries(FILES).map(async ([key, file]) => [key, await readFile(path.join(directory, file), 'utf8')] as const));
      texts = Object.fromEntries(entries) as Record<keyof typeof FILES, string>;
    } catch (cause) {
      // The directory only ever appears complete (it is renamed into place), so a gap means damage:
      // refuse rather than silently re-key.
      throw new PowernodeError(
        'config_invalid',
        `the dev Sigstore in ${directory} is incomplete (${(cause as Error).message}); delete that directory to generate a new one (signatures made with the old one will no longer verify)`,
        {
          cause,
          details: { path: directory },
        },
      );
    }
    try {
      const caKey = createPrivateKey(texts.caKey);
      const tsaKey = createPrivateKey(texts.tsaKey);
      const caCert = derFromPem(texts.caCert);
      const tsaCert = derFromPem(texts.tsaCert);
      const tsaRootCert = derFromPem(texts.tsaRootCert);
      if (!new NodeX509Certificate(caCert).checkPrivateKey(caKey) || !new NodeX509Certificate(tsaCert).checkPrivateKey(tsaKey)) {
        throw new Error('a private key does not belong to its certificate');
      }
      return new DevSigstore(directory, caKey, caCert, tsaKey, tsaCert, tsaRootCert);
    } catch (cause) {
      throw new PowernodeError(
        'config_invalid',
        `the dev Sigstore in ${directory} is damaged: ${(cause as Error).message}; delete that directory to generate a new one`,
        {
          cause,
          details: { path: directory },
        },
      );
    }
  }

  private static async generate(directory: string, now: Date): Promise<void> {
    const notBefore = wholeSeconds(new Date(now.getTime() - BACKDATE_MS));
    const notAfter = new Date(notBefore.getTime() + AUTHORITY_LIFETIME_MS);
    const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const caCert = issueCertificate(
      {
        issuer: CA_NAME,
        subject: CA_NAME,
        notBefore,
        notAfter,
        subjectPublicKey: ca.publicKey,
        extensions: [
          basicConstraintsExtension(true, 0),
          keyUsageExtension([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]),
          subjectKeyIdentifierExtension(ca.publicKey),
        ],
      },
      ca.privateKey,
    );
    // The TSA root's key signs one certificate and is then thrown away: only the TSA key stays on disk.
    const tsaRoot = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const tsaRootCert = issueCertificate(
      {
        issuer: TSA_ROOT_NAME,
        subject: TSA_ROOT_NAME,
        notBefore,
        notAfter,
        subjectPublicKey: tsaRoot.publicKey,
        extensions: [
          basicConstraintsExtension(true, 0),
          keyUsageExtension([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]),
          subjectKeyIdentifierExtension(tsaRoot.publicKey),
        ],
      },
      tsaRoot.privateKey,
    );
    const tsa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const tsaCert = issueCertificate(
      {
        issuer: TSA_ROOT_NAME,
        subject: TSA_NAME,
        notBefore,
        notAfter,
        subjectPublicKey: tsa.publicKey,
        extensions: [
          basicConstraintsExtension(false),
          keyUsageExtension([KEY_USAGE.digitalSignature]),
          extKeyUsageExtension([OID.ekuTimeStamping], true),
          subjectKeyIdentifierExtension(tsa.publicKey),
          authorityKeyIdentifierExtension(tsaRoot.publicKey),
        ],
      },
      tsaRoot.privateKey,
    );
    const secret = async (file: string, text: string): Promise<void> => {
      const target = path.join(directory, file);
      await writeFile(target, text, { mode: 0o600 });
      await chmod(target, 0o600);
    };
    await secret(FILES.caKey, ca.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    await secret(FILES.tsaKey, tsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    await writeFile(path.join(directory, FILES.caCert), pem(caCert));
    await writeFile(path.join(directory, FILES.tsaCert), pem(tsaCert));
    await writeFile(path.join(directory, FILES.tsaRootCert), pem(tsaRootCert));
    await writeFile(path.join(directory, FILES.trustedRoot), `${JSON.stringify(trustedRootJson(caCert, tsaCert, tsaRootCert), null, 2)}\n`);
  }

  /** The CA certificate (DER) that issues the signing certificates. */
  get caCertificate(): Buffer {
    return Buffer.from(this.caCert);
  }

  /** Path of the trusted root JSON (for `verify-blob --trusted-root`). */
  get trustedRootPath(): string {
    return path.join(this.directory, FILES.trustedRoot);
  }

  /** The TrustedRoot JSON for this dev Sigstore: its CA and TSA, no transparency or CT logs. */
  trustedRoot(): Record<string, unknown> {
    return trustedRootJson(this.caCert, this.tsaCert, this.tsaRootCert);
  }

  /** The parsed trust material (requires one timestamp, no tlog entry, no SCT). */
  trust(): SigstoreTrust {
    return parseTrustedRoot(this.trustedRoot(), { name: 'dev', thresholds: { tlog: 0, ctlog: 0, timestamp: 1 } });
  }

  /** Issues a Fulcio-like signing certificate (DER) for a public key, valid ten minutes from `at`. */
  issueSigningCertificate(input: { publicKey: KeyObject; identity: string; issuer: string; at?: Date }): Buffer {
    const identity = checkSignerField('identity', input.identity);
    const issuer = checkSignerField('issuer', input.issuer);
    const at = wholeSeconds(input.at ?? new Date());
    return issueCertificate(
      {
        issuer: CA_NAME,
        subject: null,
        notBefore: new Date(at.getTime() - BACKDATE_MS),
        notAfter: new Date(at.getTime() + SIGNING_CERT_LIFETIME_MS),
        subjectPublicKey: input.publicKey,
        extensions: [
          keyUsageExtension([KEY_USAGE.digitalSignature]),
          extKeyUsageExtension([OID.ekuCodeSigning], false),
          subjectAltNameExtension(signerIdentityName(identity)),
          subjectKeyIdentifierExtension(input.publicKey),
          authorityKeyIdentifierExtension(createPublicKey(this.caKey)),
          ...fulcioIssuerExtensions(issuer),
        ],
      },
      this.caKey,
    );
  }

  /** An RFC 3161 timestamp (DER TimeStampResp) over `data`, dated `at` (default now). */
  timestamp(data: Buffer, at?: Date): Buffer {
    return this.timestampDigest(createHash('sha256').update(data).digest(), at);
  }

  /** An RFC 3161 timestamp over a SHA-256 digest (what a TSA receives over the wire), dated `at`. */
  timestampDigest(sha256: Buffer, at?: Date, options: { nonce?: bigint; includeCertificate?: boolean } = {}): Buffer {
    if (sha256.length !== 32) {
      throw new PowernodeError('validation_failed', `a timestamp request carries a SHA-256 digest (32 bytes), got ${sha256.length} bytes`, {
        details: { field: 'artifactHash' },
      });
    }
    return createTimestampResponse(
      {
        imprint: sha256,
        genTime: wholeSeconds(at ?? new Date()),
        serialNumber: randomBytes(16),
        nonce: options.nonce ?? BigInt(`0x${randomBytes(8).toString('hex')}`),
      },
      { certificate: this.tsaCert, privateKey: this.tsaKey, includeCertificate: options.includeCertificate ?? false },
    );
  }

  /**
   * Signs with a fresh ephemeral key and a dev signing certificate, timestamped by the dev TSA, and
   * returns a v0.3 bundle: a message signature over `artifact` (what `cosign sign-blob` makes), or a DSSE
   * in-toto statement naming `subject` (what cosign v3 makes for an image, signable from its digest).
   */
  sign(input: DevSignInput): SerializedBundle {
    const at = wholeSeconds(input.at ?? new Date());
    const ephemeral = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const certificate = this.issueSigningCertificate({ publicKey: ephemeral.publicKey, identity: input.identity, issuer: input.issuer, at });
    const prepared = prepareSignature(input);
    const signature = sign('sha256', prepared.toBeSigned, ephemeral.privateKey);
    return withWitnesses(prepared.bundle(signature, { type: 'certificate', certificate }), {
      rfc3161Timestamps: [this.timestamp(signature, at)],
      tlogEntries: [],
    });
  }
}

function trustedRootJson(caCert: Buffer, tsaCert: Buffer, tsaRootCert: Buffer): Record<string, unknown> {
  const start = (der: Buffer): string => new Date(new NodeX509Certificate(der).validFrom).toISOString();
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [],
    certificateAuthorities: [
      {
        subject: { organization: CA_NAME.organization, commonName: CA_NAME.commonName },
        uri: 'powernode-dev-sigstore',
        certChain: { certificates: [{ rawBytes: caCert.toString('base64') }] },
        validFor: { start: start(caCert) },
      },
    ],
    ctlogs: [],
    timestampAuthorities: [
      {
        subject: { organization: TSA_NAME.organization, commonName: TSA_NAME.commonName },
        uri: 'powernode-dev-sigstore-tsa',
        certChain: { certificates: [{ rawBytes: tsaCert.toString('base64') }, { rawBytes: tsaRootCert.toString('base64') }] },
        validFor: { start: start(tsaRootCert) },
      },
    ],
  };
}
