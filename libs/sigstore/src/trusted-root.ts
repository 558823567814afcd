// Trust material: the Sigstore TrustedRoot JSON (CAs, timestamp authorities, transparency logs, CT logs),
// parsed once at start-up. Several roots (public-good, a private instance, the dev Sigstore) are combined:
// a certificate is judged under the roots whose CA issued it.
import { readFileSync } from 'node:fs';
import { PowernodeError } from '@powernode/contracts';
import { X509Certificate } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';

/** How many of each kind of evidence a signature must carry to be accepted under a root. */
export interface VerificationThresholds {
  /** Transparency-log entries. */
  tlog: number;
  /** Signed certificate timestamps embedded in the signing certificate. */
  ctlog: number;
  /** Verified signing times (RFC 3161 timestamps or tlog entries with a signed entry timestamp). */
  timestamp: number;
}

/** One trusted root, parsed. */
export interface TrustedRootEntry {
  name: string;
  material: TrustMaterial;
  thresholds: VerificationThresholds;
}

/** Everything a verifier trusts; build it once with {@link loadTrustedRoot} / {@link combineTrust}. */
export interface SigstoreTrust {
  readonly roots: readonly TrustedRootEntry[];
  /** The union of every root's material: timestamps and log entries may come from any trusted root. */
  readonly material: TrustMaterial;
}

export interface TrustedRootOptions {
  /** A label for messages (e.g. `public-good`, `dev`). */
  name?: string;
  /**
   * Defaults: a tlog entry is required when the root lists transparency logs, an SCT when it lists CT logs,
   * and always one verified timestamp (a certificate is only meaningful at a proven signing time).
   */
  thresholds?: Partial<VerificationThresholds>;
}

function invalidRoot(name: string, why: string, cause?: unknown): PowernodeError {
  return new PowernodeError('validation_failed', `trusted root ${name}: ${why}; pass a Sigstore TrustedRoot JSON (${TRUSTED_ROOT_MEDIA_TYPE})`, {
    cause,
    details: { trusted_root: name },
  });
}

/** Parses a TrustedRoot JSON object (no I/O); throws `validation_failed` when it is not one. */
export function parseTrustedRoot(json: unknown, options: TrustedRootOptions = {}): SigstoreTrust {
  const name = options.name ?? 'trusted root';
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw invalidRoot(name, 'not a JSON object');
  const mediaType = (json as { mediaType?: unknown }).mediaType;
  if (typeof mediaType !== 'string' || !mediaType.startsWith('application/vnd.dev.sigstore.trustedroot')) {
    throw invalidRoot(name, `mediaType is ${JSON.stringify(mediaType)}`);
  }
  let material: TrustMaterial;
  let root: TrustedRoot;
  try {
    root = TrustedRoot.fromJSON(json);
    material = toTrustMaterial(root);
  } catch (cause) {
    throw invalidRoot(name, `cannot read its keys or certificates (${(cause as Error).message})`, cause);
  }
  if (material.certificateAuthorities.length === 0 && material.timestampAuthorities.length === 0 && material.tlogs.length === 0) {
    throw invalidRoot(name, 'it has no certificate authority, timestamp authority or transparency log');
  }
  for (const ca of [...material.certificateAuthorities, ...material.timestampAuthorities]) {
    if (ca.certChain.length === 0) throw invalidRoot(name, 'an authority has an empty certificate chain');
  }
  const thresholds: VerificationThresholds = {
    tlog: options.thresholds?.tlog ?? (material.tlogs.length > 0 ? 1 : 0),
    ctlog: options.thresholds?.ctlog ?? (material.ctlogs.length > 0 ? 1 : 0),
    timestamp: Math.max(1, options.thresholds?.timestamp ?? 1),
  };
  const entry: TrustedRootEntry = { name, material, thresholds };
  return { roots: [entry], material };
}

/**
 * Loads a TrustedRoot from a file path, a JSON string or an already-parsed object. Meant for start-up:
 * a path is read synchronously.
 */
export function loadTrustedRoot(source: string | Buffer | object, options: TrustedRootOptions = {}): SigstoreTrust {
  if (Buffer.isBuffer(source)) return parseTrustedRoot(parseJson(source.toString('utf8'), options.name ?? 'trusted root'), options);
  if (typeof source === 'object') return parseTrustedRoot(source, options);
  if (source.trimStart().startsWith('{')) return parseTrustedRoot(parseJson(source, options.name ?? 'trusted root'), options);
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new PowernodeError(
      code === 'ENOENT' ? 'not_found' : 'validation_failed',
      `cannot read the trusted root ${source}: ${code ?? (cause as Error).message}; give the path of a Sigstore trusted_root.json`,
      {
        cause,
        details: { path: source },
      },
    );
  }
  return parseTrustedRoot(parseJson(text, options.name ?? source), { ...options, name: options.name ?? source });
}

function parseJson(text: string, name: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw invalidRoot(name, `not valid JSON (${(cause as Error).message})`, cause);
  }
}

/** Combines several trust sets into one: every root stays distinct for its thresholds. */
export function combineTrust(...trusts: SigstoreTrust[]): SigstoreTrust {
  const roots = trusts.flatMap((t) => t.roots);
  if (roots.length === 0) throw new PowernodeError('validation_failed', 'combineTrust needs at least one trusted root');
  const material: TrustMaterial = {
    certificateAuthorities: roots.flatMap((r) => r.material.certificateAuthorities),
    timestampAuthorities: roots.flatMap((r) => r.material.timestampAuthorities),
    tlogs: roots.flatMap((r) => r.material.tlogs),
    ctlogs: roots.flatMap((r) => r.material.ctlogs),
    publicKey: roots[0]!.material.publicKey,
  };
  return { roots, material };
}

/** The roots whose certificate authorities signed this certificate (by signature, whatever the time). */
export function rootsIssuing(trust: SigstoreTrust, leaf: X509Certificate): TrustedRootEntry[] {
  return trust.roots.filter((root) =>
    root.material.certificateAuthorities.some((ca) =>
      ca.certChain.some((caCert) => {
        if (!caCert.subject.equals(leaf.issuer)) return false;
        try {
          return leaf.verify(caCert);
        } catch {
          return false;
        }
      }),
    ),
  );
}
