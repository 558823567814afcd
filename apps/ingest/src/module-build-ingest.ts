import { pullModuleArtifact, type PulledModuleArtifact } from '@powernode/artifact';
import {
  isPowernodeError,
  moduleBuildReportedSchema,
  PowernodeError,
  type Actor,
  type ModuleBuildReportedData,
  type ModuleVersionBuiltData,
  type ModuleVersionRejectedData,
} from '@powernode/contracts';
import { tryParseVersionFromTag } from '@powernode/dependencies';
import type { DeliveryContext, EventEnvelope } from '@powernode/events';
import { formatReference, parseReference, type OciReference } from '@powernode/oci';
import type { Logger } from '@powernode/runtime';
import type { SigstoreTrust } from '@powernode/sigstore';
import { classifyArtifactFailure } from './artifact-failure.js';
import { artifactReferenceFor } from './artifact-reference.js';
import type { CatalogCommands, CatalogVersionView, ModuleTrustPolicy } from './catalog-commands.js';
import type { RegistryClients } from './registry-clients.js';
import type { SignatureCandidate } from './signature-candidates.js';
import { discoverSignatures } from './signature-discovery.js';
import { judgeSignatures, type SignatureJudgement } from './signature-judgement.js';
import { assertArtifactMatchesReport, builtVersion, rejectedVersion, reverifiedVersion, versionIdentityOf } from './version-records.js';

export interface ModuleBuildIngestOptions {
  catalog: CatalogCommands;
  registries: RegistryClients;
  trust: SigstoreTrust;
  /** `OCI_REGISTRY`: where artifacts live when a report names none. */
  defaultRegistry: string;
  /** The consumer's delivery limit: the last delivery turns an unreachable registry into a rejection. */
  maxDeliver: number;
  logger: Logger;
  clock?: () => Date;
}

/** What ingest concluded about a build report. */
export type IngestOutcome = { kind: 'built'; data: ModuleVersionBuiltData } | { kind: 'rejected'; data: ModuleVersionRejectedData };

/** An artifact pulled and checked end to end, with the signatures found for it. */
interface InspectedArtifact {
  artifact: PulledModuleArtifact;
  candidates: SignatureCandidate[];
}

/** A pinned reference (`…@sha256:…`), so that the bytes checked and the signatures read are of one manifest. */
function pinned(reference: OciReference, digest: string): OciReference {
  return { ...reference, digest };
}

/**
 * Turns `ModuleBuildReported` events into module versions: resolves and pulls the artifact, verifies every
 * layer digest, every file's fs-verity digest and the root hash, judges the signatures against the module's
 * trust policy, and hands the result to the catalog (`ModuleVersionBuilt` / `ModuleVersionRejected`). Safe to
 * run again for the same event: the catalog records a build once per module, tag, digest and verdict.
 */
export class ModuleBuildIngest {
  private readonly clock: () => Date;

  constructor(private readonly options: ModuleBuildIngestOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  /** The durable consumer's handler. Throws to have the delivery retried (registry or catalog unavailable). */
  async handleBuildReported(event: EventEnvelope, delivery: DeliveryContext): Promise<void> {
    const parsed = moduleBuildReportedSchema.safeParse(event.data);
    if (!parsed.success) {
      throw new PowernodeError(
        'invalid_event',
        `ModuleBuildReported ${event.id} does not match its schema: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      );
    }
    const report = parsed.data;
    const log = { event_id: event.id, correlation_id: event.correlation_id, module: report.module_name, tag: report.tag, attempt: delivery.attempt };
    const { catalog, logger } = this.options;
    let policy: ModuleTrustPolicy;
    try {
      policy = await catalog.trustPolicy(report.module_id, event.correlation_id);
    } catch (error) {
      if (isPowernodeError(error) && error.code === 'not_found') {
        logger.warn(log, 'build reported for a module that is no longer registered; dropped');
        return;
      }
      throw error;
    }
    logger.info(log, 'ingesting build');
    const outcome = await this.examine(report, policy, { finalAttempt: delivery.attempt >= this.options.maxDeliver, log });
    await this.record(outcome, event, log);
  }

  /**
   * Verifies a recorded version again under its module's current trust policy (after the policy was edited):
   * re-pulls the artifact by digest, checks it end to end, judges its signatures and records the verdict.
   */
  async reverify(versionId: string, actor: Actor, correlation_id: string): Promise<{ version: CatalogVersionView; changed: boolean }> {
    const { catalog, logger } = this.options;
    const { version } = await catalog.getVersion(versionId, actor, correlation_id);
    if (version.oci_ref === null || version.oci_digest === null || version.composefs_digest === null) {
      throw new PowernodeError(
        'conflict',
        `version ${version.version_string} of ${version.module_name} was rejected at ingest (${version.rejection_reason ?? 'no artifact'}); there is no signature to verify again: publish a new tag`,
        {
          details: { version_id: versionId, rule: 'rejected_version_not_reverified' },
        },
      );
    }
    const { module } = await catalog.getModule(version.module_name, actor, correlation_id);
    const policy = await catalog.trustPolicy(module.id, correlation_id);
    const reference = pinned(parseReference(version.oci_ref), version.oci_digest);
    const { artifact, candidates } = await this.inspect(reference, { module_name: policy.module_name, version_string: version.version_string });
    const judgement = this.judge(candidates, artifact.manifestDigest, policy);
    const data = reverifiedVersion(
      {
        version_id: version.id,
        module_id: module.id,
        module_name: version.module_name,
        version_string: version.version_string,
        oci_digest: artifact.manifestDigest,
      },
      { policy, judgement, requested_by: actor.name, at: this.clock() },
    );
    const result = await catalog.recordReverification(data, correlation_id);
    logger.info(
      { version_id: versionId, correlation_id, cosign_verified: data.cosign_verified, changed: result.changed, requested_by: actor.name },
      'version verified again',
    );
    return result;
  }

  private async examine(
    report: ModuleBuildReportedData,
    policy: ModuleTrustPolicy,
    context: { finalAttempt: boolean; log: Record<string, unknown> },
  ): Promise<IngestOutcome> {
    const identity = versionIdentityOf(report, policy.module_name);
    const at = this.clock();
    const versionString = tryParseVersionFromTag(report.tag);
    let reference: OciReference | undefined;
    let resolveFailure: PowernodeError | undefined;
    try {
      reference = artifactReferenceFor(report, this.options.defaultRegistry);
    } catch (error) {
      if (!isPowernodeError(error)) throw error;
      resolveFailure = error;
    }
    const ociRef = reference === undefined ? null : formatReference(reference);
    const reject = (reason_code: ModuleVersionRejectedData['reason_code'], reason: string, oci_digest: string | null): IngestOutcome => ({
      kind: 'rejected',
      data: rejectedVersion(identity, { version_string: versionString, oci_ref: ociRef, oci_digest, reason_code, reason, at }),
    });
    // Nothing is pulled for a tag that cannot name a version.
    if (versionString === null)
      return reject('not_semver', `tag "${report.tag}" is not a semantic version: tag releases as vMAJOR.MINOR.PATCH (for example v1.2.3)`, null);
    if (reference === undefined) return reject('manifest_invalid', resolveFailure?.message ?? 'the build report names no artifact', null);

    const progress: { digest: string | null } = { digest: reference.digest ?? null };
    let inspected: InspectedArtifact;
    try {
      inspected = await this.inspect(reference, { module_name: policy.module_name, version_string: versionString }, progress);
    } catch (error) {
      const failure = classifyArtifactFailure(error);
      switch (failure.kind) {
        case 'reject':
          return reject(failure.reason_code, failure.reason, progress.digest);
        case 'unavailable':
          if (!context.finalAttempt) {
            throw new PowernodeError('registry_unreachable', `cannot fetch ${ociRef} yet: ${failure.reason}`, {
              cause: error,
              retryable: true,
              details: { oci_ref: ociRef },
            });
          }
          this.options.logger.warn({ ...context.log, err: error }, 'artifact still unavailable on the last delivery; recording the build as rejected');
          return reject(
            failure.final_code,
            `${failure.reason} (gave up after ${this.options.maxDeliver} deliveries; publish again once the registry answers)`,
            progress.digest,
          );
        case 'unexpected':
          throw error;
        default: {
          const unreachable: never = failure;
          throw unreachable;
        }
      }
    }
    const { artifact, candidates } = inspected;
    const judgement = this.judge(candidates, artifact.manifestDigest, policy);
    if (judgement.status === 'missing') return reject('signature_missing', judgement.reason, artifact.manifestDigest);
    return { kind: 'built', data: builtVersion(identity, { version_string: versionString, oci_ref: ociRef!, artifact, judgement, at }) };
  }

  /** Pulls the manifest the reference names, pinned by digest, verifies it all, and reads its signatures. */
  private async inspect(
    reference: OciReference,
    expected: { module_name: string; version_string: string },
    progress: { digest: string | null } = { digest: null },
  ): Promise<InspectedArtifact> {
    const client = this.options.registries.clientFor(reference.registry);
    let digest = reference.digest;
    if (digest === undefined) {
      const head = await client.headManifest(reference.repository, reference.tag!);
      if (head === undefined) {
        throw new PowernodeError('not_found', `no artifact at ${formatReference(reference)}: push it before reporting the build`, {
          details: { oci_ref: formatReference(reference) },
        });
      }
      digest = head.digest;
    }
    progress.digest = digest;
    const artifact = await pullModuleArtifact(client, pinned(reference, digest));
    assertArtifactMatchesReport(artifact, expected);
    const candidates = await discoverSignatures(client, reference.repository, artifact.manifestDigest);
    return { artifact, candidates };
  }

  private judge(candidates: SignatureCandidate[], manifestDigest: string, policy: ModuleTrustPolicy): SignatureJudgement {
    return judgeSignatures({ candidates, manifestDigest, policy, trust: this.options.trust });
  }

  private async record(outcome: IngestOutcome, event: EventEnvelope, log: Record<string, unknown>): Promise<void> {
    const { catalog, logger } = this.options;
    try {
      switch (outcome.kind) {
        case 'built': {
          const d = outcome.data;
          try {
            await catalog.recordBuild(d, event.id, event.correlation_id);
          } catch (error) {
            // The catalog judges the manifest against its own rules too; its refusal is the build's rejection.
            if (!(isPowernodeError(error) && error.code === 'manifest_invalid')) throw error;
            await catalog.recordRejection(
              rejectedVersion(versionIdentityOf({ module_id: d.module_id, tag: d.tag }, d.module_name), {
                version_string: d.version_string,
                oci_ref: d.oci_ref,
                oci_digest: d.oci_digest,
                reason_code: 'manifest_invalid',
                reason: error.message,
                at: this.clock(),
              }),
              event.id,
              event.correlation_id,
            );
            logger.warn({ ...log, version_id: d.version_id, reason: error.message }, 'build recorded as rejected: manifest_invalid');
            return;
          }
          logger.info(
            {
              ...log,
              version_id: d.version_id,
              oci_digest: d.oci_digest,
              cosign_verified: d.cosign_verified,
              signer_identity: d.signer_identity,
              reason: d.verification_reason,
            },
            'build recorded',
          );
          return;
        }
        case 'rejected': {
          const d = outcome.data;
          await catalog.recordRejection(d, event.id, event.correlation_id);
          logger.warn({ ...log, version_id: d.version_id, reason_code: d.reason_code, reason: d.reason }, `build recorded as rejected: ${d.reason_code}`);
          return;
        }
        default: {
          const unreachable: never = outcome;
          throw unreachable;
        }
      }
    } catch (error) {
      // A promoted or retired version under the same tag refuses a different build: that refusal is final.
      if (isPowernodeError(error) && (error.code === 'already_exists' || error.code === 'invalid_transition')) {
        logger.warn({ ...log, err: error, code: error.code }, 'the catalog refused the build; nothing recorded');
        return;
      }
      throw error;
    }
  }
}
