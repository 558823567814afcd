import { isPowernodeError, type VersionRejectionCode } from '@powernode/contracts';

/** What a failure while fetching and checking an artifact means for the build being ingested. */
export type ArtifactFailure =
  /** The artifact itself is bad: record the version as rejected with this code. */
  | { kind: 'reject'; reason_code: VersionRejectionCode; reason: string }
  /**
   * The registry could not give an answer about the artifact (down, overloaded, credentials, not there yet):
   * retry the delivery; on the last allowed delivery record the version as rejected with `final_code`.
   */
  | { kind: 'unavailable'; final_code: VersionRejectionCode; reason: string }
  /** Not a verdict on the artifact (a bug, the disk): leave it to the consumer's retry and dead-letter rules. */
  | { kind: 'unexpected' };

/** Sorts an error thrown while resolving, pulling or reading the signatures of an artifact. */
export function classifyArtifactFailure(error: unknown): ArtifactFailure {
  if (!isPowernodeError(error)) return { kind: 'unexpected' };
  const reason = error.message;
  switch (error.code) {
    case 'digest_mismatch':
    case 'fsverity_mismatch':
    case 'manifest_invalid':
    case 'not_semver':
      return { kind: 'reject', reason_code: error.code, reason };
    case 'validation_failed':
    case 'payload_too_large':
      // A reference that cannot be pulled, a registry that is not allowed, a blob over the size limits.
      return { kind: 'reject', reason_code: 'manifest_invalid', reason };
    case 'registry_not_allowed':
      // The report or the registry pointed ingest at a host it may not contact: no retry changes that.
      return { kind: 'reject', reason_code: 'registry_unreachable', reason };
    case 'registry_error':
      // Malformed answers (a manifest that is not JSON) are about the artifact; 5xx are the registry's state.
      return error.retryable
        ? { kind: 'unavailable', final_code: 'registry_unreachable', reason }
        : { kind: 'reject', reason_code: 'manifest_invalid', reason };
    case 'not_found':
      return { kind: 'unavailable', final_code: 'manifest_invalid', reason };
    case 'registry_unreachable':
    case 'rate_limited':
    case 'unauthenticated':
    case 'forbidden':
      return { kind: 'unavailable', final_code: 'registry_unreachable', reason };
    default:
      return { kind: 'unexpected' };
  }
}
