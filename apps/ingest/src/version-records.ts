import {
  moduleVersionIdFor,
  PowernodeError,
  type ModuleBuildReportedData,
  type ModuleVersionBuiltData,
  type ModuleVersionRejectedData,
  type ModuleVersionReverifiedData,
  type VersionRejectionCode,
} from '@powernode/contracts';
import { MODULE_ANNOTATIONS, type PulledModuleArtifact } from '@powernode/artifact';
import { tryParseVersionFromTag } from '@powernode/dependencies';
import { summarizeSbom } from './sbom-summary.js';
import type { SignatureJudgement, TrustPolicy } from './signature-judgement.js';

/** Reasons are for people and land in events: long enough to act on, bounded. */
const MAX_REASON_LENGTH = 2000;

/** Which version a build report is about: one per module registration and tag. */
export interface VersionIdentity {
  version_id: string;
  module_id: string;
  module_name: string;
  tag: string;
}

/** The version a build report fills in. */
export function versionIdentityOf(report: Pick<ModuleBuildReportedData, 'module_id' | 'tag'>, module_name: string): VersionIdentity {
  return { version_id: moduleVersionIdFor(report.module_id, report.tag), module_id: report.module_id, module_name, tag: report.tag };
}

function boundedReason(reason: string): string {
  const text = reason.trim() === '' ? 'no reason given' : reason.trim();
  return text.length <= MAX_REASON_LENGTH ? text : `${text.slice(0, MAX_REASON_LENGTH - 1)}…`;
}

/** A rejected build as the catalog records it. */
export function rejectedVersion(
  identity: VersionIdentity,
  rejection: { version_string: string | null; oci_ref: string | null; oci_digest: string | null; reason_code: VersionRejectionCode; reason: string; at: Date },
): ModuleVersionRejectedData {
  return {
    ...identity,
    version_string: rejection.version_string,
    oci_ref: rejection.oci_ref,
    oci_digest: rejection.oci_digest,
    reason_code: rejection.reason_code,
    reason: boundedReason(rejection.reason),
    rejected_at: rejection.at.toISOString(),
  };
}

/** A verified or policy-failing build as the catalog records it (`cosign_verified: false` keeps the reason). */
export function builtVersion(
  identity: VersionIdentity,
  build: { version_string: string; oci_ref: string; artifact: PulledModuleArtifact; judgement: Exclude<SignatureJudgement, { status: 'missing' }>; at: Date },
): ModuleVersionBuiltData {
  const { artifact, judgement } = build;
  return {
    ...identity,
    version_string: build.version_string,
    oci_ref: build.oci_ref,
    oci_digest: artifact.manifestDigest,
    composefs_digest: artifact.composefsDigest,
    fsverity_root_hash: artifact.rootHash,
    ...signatureFields(judgement),
    sbom_summary: summarizeSbom(artifact.sbom),
    manifest: artifact.config as unknown as Record<string, unknown>,
    built_at: build.at.toISOString(),
  };
}

/** A re-verification verdict for a recorded version; a vanished signature is recorded as unverified. */
export function reverifiedVersion(
  version: { version_id: string; module_id: string; module_name: string; version_string: string; oci_digest: string },
  check: { policy: TrustPolicy; judgement: SignatureJudgement; requested_by: string; at: Date },
): ModuleVersionReverifiedData {
  const judgement: Exclude<SignatureJudgement, { status: 'missing' }> =
    check.judgement.status === 'missing'
      ? { status: 'unverified', signer_identity: null, signer_issuer: null, verification_reason: `signature_missing: ${check.judgement.reason}` }
      : check.judgement;
  return {
    ...version,
    ...signatureFields(judgement),
    cosign_identity_regexp: check.policy.cosign_identity_regexp,
    cosign_issuer_regexp: check.policy.cosign_issuer_regexp,
    requested_by: check.requested_by,
    reverified_at: check.at.toISOString(),
  };
}

function signatureFields(judgement: Exclude<SignatureJudgement, { status: 'missing' }>) {
  switch (judgement.status) {
    case 'verified':
      return { cosign_verified: true, signer_identity: judgement.signer_identity, signer_issuer: judgement.signer_issuer };
    case 'unverified':
      return {
        cosign_verified: false,
        signer_identity: judgement.signer_identity,
        signer_issuer: judgement.signer_issuer,
        verification_reason: boundedReason(judgement.verification_reason),
      };
    default: {
      const unreachable: never = judgement;
      return unreachable;
    }
  }
}

/**
 * Checks that the pulled artifact is the module and version the report says: the manifest names the module,
 * and a version annotation, when present, is the tag's version (an old signed artifact re-tagged as a new
 * version is refused). Throws `manifest_invalid`.
 */
export function assertArtifactMatchesReport(
  artifact: Pick<PulledModuleArtifact, 'config' | 'manifest'>,
  expected: { module_name: string; version_string: string },
): void {
  if (artifact.config.name !== expected.module_name) {
    throw new PowernodeError(
      'manifest_invalid',
      `the artifact's manifest names module "${artifact.config.name}" but it was published for "${expected.module_name}": fix name in manifest.yaml and publish again`,
      {
        details: { field: 'manifest.name', expected: expected.module_name, actual: artifact.config.name },
      },
    );
  }
  const annotated = artifact.manifest.annotations?.[MODULE_ANNOTATIONS.version];
  if (annotated === undefined) return;
  const version = tryParseVersionFromTag(annotated);
  if (version !== expected.version_string) {
    throw new PowernodeError(
      'manifest_invalid',
      `the artifact was built as version ${JSON.stringify(annotated)} (annotation ${MODULE_ANNOTATIONS.version}) but published under a tag for ${expected.version_string}: build it for this tag`,
      {
        details: { field: MODULE_ANNOTATIONS.version, expected: expected.version_string, actual: annotated },
      },
    );
  }
}
