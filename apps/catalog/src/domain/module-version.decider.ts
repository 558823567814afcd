import {
  PROMOTION_STATES,
  PROMOTION_TRANSITIONS,
  PowernodeError,
  moduleVersionIdFor,
  parseRequires,
  type ApprovalPolicy,
  type ApprovalStatus,
  type CatalogEventOf,
  type ModuleVersionBuiltData,
  type ModuleVersionRejectedData,
  type ModuleVersionReverifiedData,
  type PromotionState,
} from '@powernode/contracts';
import { parseVersionFromTag, resolveRequirement, type CatalogView, type VersionCandidate } from '@powernode/dependencies';
import { assertNever, type Decider } from '@powernode/events';
import { manifestDependencyFacts } from '@powernode/catalog-views';
import { parseManifestDocument } from './manifest-seed.js';

/*
 * NodeModuleVersion (stream `module-version-<version_id>`, id = moduleVersionIdFor(module_id, tag)): what
 * ingest recorded about a build, and its promotion through built → staging → blessed → live (or retired).
 * Facts owned elsewhere arrive with the command: the module's approval policy, the versions of the
 * dependencies (for entering staging), and the PromotionApproval that grants a `live` promotion.
 */

export type ModuleVersionEvent =
  | CatalogEventOf<'ModuleVersionBuilt'>
  | CatalogEventOf<'ModuleVersionRejected'>
  | CatalogEventOf<'ModuleVersionPromoted'>
  | CatalogEventOf<'ModuleVersionReverified'>;

/** What the command handler knows about the PromotionApproval offered for a `live` promotion. */
export interface ApprovalFact {
  approval_id: string;
  version_id: string;
  status: ApprovalStatus;
  approved_by: string | null;
}

export type ModuleVersionCommand =
  | { type: 'RecordBuild'; build: ModuleVersionBuiltData }
  | { type: 'RecordRejection'; rejection: ModuleVersionRejectedData }
  /** A new signature verdict for a recorded build (trust policy edited); the promotion state is kept. */
  | { type: 'RecordReverification'; reverification: ModuleVersionReverifiedData }
  | {
      type: 'PromoteVersion';
      to: string;
      requested_by: string;
      /** The module's policy for `live` (default require_approval). */
      approval_policy: ApprovalPolicy;
      /** Catalog modules by name with their versions (and requires); consulted when entering staging. */
      dependencies: CatalogView;
      /** The approval being applied, when promoting to `live` under require_approval. */
      approval: ApprovalFact | null;
      now: string;
    };

export interface RecordedVersion {
  version_id: string;
  module_id: string;
  module_name: string;
  version_string: string;
  tag: string;
  oci_ref: string;
  oci_digest: string;
  composefs_digest: string;
  fsverity_root_hash: string;
  cosign_verified: boolean;
  verification_reason: string | null;
  requires: string[];
  provides: string[];
  promotion_state: PromotionState;
  built_at: string;
}

export type ModuleVersionState =
  | { status: 'absent' }
  | { status: 'available'; version: RecordedVersion }
  /** Ingest refused the build; the row stays (promotion_state built) until retired. */
  | { status: 'rejected'; rejection: ModuleVersionRejectedData; promotion_state: 'built' | 'retired' };

/** One requirement of a version that no promoted dependency satisfies. */
export interface UnmetDependency {
  requirement: string;
  module: string;
  range: string;
  reason: 'module_missing' | 'not_promoted' | 'no_version_in_range' | 'invalid_requirement';
  /** Versions that satisfy the range but are not promoted far enough (not_promoted). */
  in_range?: VersionCandidate[];
  /** Every version of the module (no_version_in_range). */
  available?: string[];
}

export const moduleVersionDecider: Decider<ModuleVersionCommand, ModuleVersionState, ModuleVersionEvent> = {
  initialState: () => ({ status: 'absent' }),

  decide(command, state) {
    switch (command.type) {
      case 'RecordBuild':
        return recordBuild(command.build, state);
      case 'RecordRejection':
        return recordRejection(command.rejection, state);
      case 'RecordReverification':
        return recordReverification(command.reverification, state);
      case 'PromoteVersion':
        return promote(command, state);
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'ModuleVersionBuilt': {
        const d = event.data;
        const { requires, provides } = manifestDependencyFacts(d.manifest);
        return {
          status: 'available',
          version: {
            version_id: d.version_id,
            module_id: d.module_id,
            module_name: d.module_name,
            version_string: d.version_string,
            tag: d.tag,
            oci_ref: d.oci_ref,
            oci_digest: d.oci_digest,
            composefs_digest: d.composefs_digest,
            fsverity_root_hash: d.fsverity_root_hash,
            cosign_verified: d.cosign_verified,
            verification_reason: d.verification_reason ?? null,
            requires,
            provides,
            // A replacement build is only accepted while the version is still `built`.
            promotion_state: 'built',
            built_at: d.built_at,
          },
        };
      }
      case 'ModuleVersionRejected':
        return { status: 'rejected', rejection: event.data, promotion_state: 'built' };
      case 'ModuleVersionPromoted':
        switch (state.status) {
          case 'available':
            return { status: 'available', version: { ...state.version, promotion_state: event.data.to } };
          case 'rejected':
            return { ...state, promotion_state: event.data.to === 'retired' ? 'retired' : state.promotion_state };
          case 'absent':
            return state;
          default:
            return assertNever(state);
        }
      case 'ModuleVersionReverified':
        if (state.status !== 'available') return state;
        return {
          status: 'available',
          version: { ...state.version, cosign_verified: event.data.cosign_verified, verification_reason: event.data.verification_reason ?? null },
        };
      default:
        return assertNever(event);
    }
  },
};

function recordBuild(build: ModuleVersionBuiltData, state: ModuleVersionState): ModuleVersionEvent[] {
  const expectedId = moduleVersionIdFor(build.module_id, build.tag);
  if (build.version_id !== expectedId) {
    throw new PowernodeError(
      'validation_failed',
      `version_id ${build.version_id} is not the id of module ${build.module_id} tag ${build.tag} (expected ${expectedId}): derive it with moduleVersionIdFor`,
      {
        details: { field: 'version_id', expected: expectedId, rule: 'version_id_derived' },
      },
    );
  }
  const version = parseVersionFromTag(build.tag);
  if (build.version_string !== version) {
    throw new PowernodeError('validation_failed', `version_string "${build.version_string}" does not match tag ${build.tag} (which reads as ${version})`, {
      details: { field: 'version_string', expected: version, rule: 'version_string_from_tag' },
    });
  }
  const manifest = parseManifestDocument(build.manifest);
  if (manifest.name !== build.module_name) {
    throw new PowernodeError(
      'manifest_invalid',
      `the artifact's manifest names module "${manifest.name}" but was published for "${build.module_name}": fix name in manifest.yaml and tag again`,
      {
        details: { field: 'manifest.name', rule: 'manifest_name_matches' },
      },
    );
  }
  const event: ModuleVersionEvent = { type: 'ModuleVersionBuilt', data: build };
  switch (state.status) {
    case 'absent':
      return [event];
    case 'rejected':
      if (state.promotion_state === 'retired') throw retiredIsFinal(state.rejection.module_name, state.rejection.version_string ?? state.rejection.tag);
      return [event];
    case 'available': {
      const current = state.version;
      const sameContent = current.oci_digest === build.oci_digest;
      if (sameContent && current.cosign_verified === build.cosign_verified && current.verification_reason === (build.verification_reason ?? null)) return [];
      if (current.promotion_state === 'built') return [event];
      if (sameContent) return [];
      throw new PowernodeError(
        'already_exists',
        `version ${current.version_string} of ${current.module_name} is ${current.promotion_state} with digest ${current.oci_digest}; a different build (${build.oci_digest}) under the same tag is refused: publish a new tag`,
        {
          details: {
            version_id: current.version_id,
            promotion_state: current.promotion_state,
            oci_digest: current.oci_digest,
            rule: 'promoted_version_immutable',
          },
        },
      );
    }
    default:
      return assertNever(state);
  }
}

function recordRejection(rejection: ModuleVersionRejectedData, state: ModuleVersionState): ModuleVersionEvent[] {
  const expectedId = moduleVersionIdFor(rejection.module_id, rejection.tag);
  if (rejection.version_id !== expectedId) {
    throw new PowernodeError(
      'validation_failed',
      `version_id ${rejection.version_id} is not the id of module ${rejection.module_id} tag ${rejection.tag} (expected ${expectedId})`,
      {
        details: { field: 'version_id', expected: expectedId, rule: 'version_id_derived' },
      },
    );
  }
  const event: ModuleVersionEvent = { type: 'ModuleVersionRejected', data: rejection };
  switch (state.status) {
    case 'absent':
      return [event];
    case 'rejected': {
      if (state.promotion_state === 'retired') throw retiredIsFinal(rejection.module_name, rejection.version_string ?? rejection.tag);
      const same =
        state.rejection.reason_code === rejection.reason_code &&
        state.rejection.reason === rejection.reason &&
        state.rejection.oci_digest === rejection.oci_digest;
      return same ? [] : [event];
    }
    case 'available': {
      // A registry outage while a delivery is retried says nothing about the version already recorded.
      if (rejection.reason_code === 'registry_unreachable') return [];
      if (state.version.promotion_state === 'built') return [event];
      throw new PowernodeError(
        'already_exists',
        `version ${state.version.version_string} of ${state.version.module_name} is already ${state.version.promotion_state}; a rejected rebuild under the same tag does not replace it: publish a new tag`,
        { details: { version_id: state.version.version_id, promotion_state: state.version.promotion_state, rule: 'promoted_version_immutable' } },
      );
    }
    default:
      return assertNever(state);
  }
}

/**
 * A changed signature verdict for the build the version holds. Same verdict = no event. A version promoted
 * beyond built keeps its state when it loses its verification; `promote` then only lets it be retired.
 */
function recordReverification(reverification: ModuleVersionReverifiedData, state: ModuleVersionState): ModuleVersionEvent[] {
  switch (state.status) {
    case 'absent':
      throw new PowernodeError('not_found', `no module version ${reverification.version_id}: list versions with system_list_module_versions`, {
        details: { version_id: reverification.version_id, rule: 'version_exists' },
      });
    case 'rejected': {
      const r = state.rejection;
      throw new PowernodeError(
        'conflict',
        `version ${r.version_string ?? r.tag} of ${r.module_name} was rejected at ingest (${r.reason_code}); there is no signature verdict to revise: publish a new tag`,
        {
          details: { version_id: r.version_id, reason_code: r.reason_code, rule: 'rejected_version_not_reverified' },
        },
      );
    }
    case 'available':
      break;
    default:
      return assertNever(state);
  }
  const v = state.version;
  if (reverification.version_id !== v.version_id) {
    throw new PowernodeError('validation_failed', `version_id ${reverification.version_id} is not this version (${v.version_id})`, {
      details: { field: 'version_id', expected: v.version_id, rule: 'version_id_matches' },
    });
  }
  if (reverification.oci_digest !== v.oci_digest) {
    throw new PowernodeError(
      'conflict',
      `version ${v.version_string} of ${v.module_name} now holds ${v.oci_digest}, not the checked ${reverification.oci_digest}: verify it again`,
      {
        details: { version_id: v.version_id, oci_digest: v.oci_digest, checked_digest: reverification.oci_digest, rule: 'reverified_digest_current' },
      },
    );
  }
  const sameVerdict = v.cosign_verified === reverification.cosign_verified && v.verification_reason === (reverification.verification_reason ?? null);
  return sameVerdict ? [] : [{ type: 'ModuleVersionReverified', data: reverification }];
}

function promote(command: Extract<ModuleVersionCommand, { type: 'PromoteVersion' }>, state: ModuleVersionState): ModuleVersionEvent[] {
  if (!(PROMOTION_STATES as readonly string[]).includes(command.to)) {
    throw new PowernodeError('validation_failed', `to: "${command.to}" is not a promotion state; use one of ${PROMOTION_STATES.join(', ')}`, {
      details: { field: 'to', rule: 'target_state_known' },
    });
  }
  const to = command.to as PromotionState;
  switch (state.status) {
    case 'absent':
      throw new PowernodeError('not_found', 'no such module version: list versions with system_list_module_versions', { details: { rule: 'version_exists' } });
    case 'rejected': {
      const r = state.rejection;
      const label = r.version_string ?? r.tag;
      if (state.promotion_state === 'retired') throw invalidTransition(r.module_name, label, 'retired', to);
      if (to !== 'retired') {
        throw new PowernodeError(
          'invalid_transition',
          `version ${label} of ${r.module_name} was rejected at ingest (${r.reason_code}: ${r.reason}): it can only be retired; fix the build and publish a new tag`,
          {
            details: { version_id: r.version_id, reason_code: r.reason_code, to, rule: 'rejected_version_only_retires' },
          },
        );
      }
      return [promoted(r.version_id, r.module_id, r.module_name, label, 'built', 'retired', command, null)];
    }
    case 'available':
      break;
    default:
      return assertNever(state);
  }

  const v = state.version;
  const from = v.promotion_state;
  if (!PROMOTION_TRANSITIONS[from].includes(to)) throw invalidTransition(v.module_name, v.version_string, from, to);
  if (!v.cosign_verified && to !== 'retired') {
    throw new PowernodeError(
      'unverified_signature',
      `version ${v.version_string} of ${v.module_name} has no signature matching the module's trust policy${v.verification_reason ? ` (${v.verification_reason})` : ''}: it can only be retired; fix the policy or the signing identity and publish again`,
      { details: { version_id: v.version_id, to, rule: 'verified_signature_required' } },
    );
  }
  if (to === 'staging') {
    const unmet = unmetDependencies(v.requires, command.dependencies);
    if (unmet.length > 0) {
      throw new PowernodeError(
        'dependency_not_promoted',
        `version ${v.version_string} of ${v.module_name} cannot enter staging: ${unmet.map(describeUnmet).join('; ')}`,
        { details: { version_id: v.version_id, unmet, rule: 'dependencies_at_staging_or_above' } },
      );
    }
  }
  let approvalId: string | null = null;
  if (to === 'live' && command.approval_policy === 'require_approval') {
    approvalId = grantedApprovalId(v, command.approval);
  }
  return [promoted(v.version_id, v.module_id, v.module_name, v.version_string, from, to, command, approvalId)];
}

/** Each requirement of the version checked against the catalog: resolved by a version at staging or above. */
export function unmetDependencies(requires: readonly string[], catalog: CatalogView): UnmetDependency[] {
  const unmet: UnmetDependency[] = [];
  for (const requirement of requires) {
    let module: string;
    let range: string;
    try {
      ({ module, range } = parseRequires(requirement));
    } catch {
      unmet.push({ requirement, module: requirement, range: '', reason: 'invalid_requirement' });
      continue;
    }
    const view = Object.prototype.hasOwnProperty.call(catalog, module) ? catalog[module] : undefined;
    if (view === undefined) {
      unmet.push({ requirement, module, range, reason: 'module_missing' });
      continue;
    }
    const resolution = resolveRequirement(range, view.versions, 'staging');
    switch (resolution.status) {
      case 'satisfied':
        break;
      case 'not_promoted':
        unmet.push({ requirement, module, range, reason: 'not_promoted', in_range: resolution.in_range });
        break;
      case 'no_version_in_range':
        unmet.push({ requirement, module, range, reason: 'no_version_in_range', available: resolution.available });
        break;
      default:
        assertNever(resolution);
    }
  }
  return unmet;
}

function describeUnmet(u: UnmetDependency): string {
  switch (u.reason) {
    case 'module_missing':
      return `${u.requirement}: module ${u.module} is not in the catalog`;
    case 'not_promoted':
      return `${u.requirement}: ${u.in_range!.map((c) => `${c.version} is ${c.promotion_state}`).join(', ')} — promote one to staging first`;
    case 'no_version_in_range':
      return `${u.requirement}: no version of ${u.module} satisfies ${u.range} (available: ${u.available!.length > 0 ? u.available!.join(', ') : 'none'})`;
    case 'invalid_requirement':
      return `${u.requirement}: not <owner>/<module>@<range>`;
    default:
      return assertNever(u.reason);
  }
}

function grantedApprovalId(v: RecordedVersion, approval: ApprovalFact | null): string {
  if (approval === null) {
    throw new PowernodeError(
      'approval_required',
      `promoting ${v.module_name} ${v.version_string} to live needs an approval: request one; a principal with the approver role other than you approves it`,
      {
        details: { version_id: v.version_id, rule: 'live_requires_approval' },
      },
    );
  }
  if (approval.version_id !== v.version_id) {
    throw new PowernodeError('validation_failed', `approval ${approval.approval_id} is for version ${approval.version_id}, not ${v.version_id}`, {
      details: { approval_id: approval.approval_id, rule: 'approval_matches_version' },
    });
  }
  switch (approval.status) {
    case 'granted':
      return approval.approval_id;
    case 'expired':
      throw new PowernodeError('approval_expired', `approval ${approval.approval_id} expired before it was granted: request a new one`, {
        details: { approval_id: approval.approval_id, rule: 'approval_not_expired' },
      });
    case 'pending':
    case 'rejected':
      throw new PowernodeError(
        'approval_required',
        `approval ${approval.approval_id} is ${approval.status}, not granted: ${approval.status === 'pending' ? 'wait for an approver' : 'request a new one'}`,
        {
          details: { approval_id: approval.approval_id, approval_status: approval.status, rule: 'live_requires_approval' },
        },
      );
    default:
      return assertNever(approval.status);
  }
}

function promoted(
  versionId: string,
  moduleId: string,
  moduleName: string,
  versionString: string,
  from: PromotionState,
  to: PromotionState,
  command: { requested_by: string; now: string },
  approvalId: string | null,
): ModuleVersionEvent {
  return {
    type: 'ModuleVersionPromoted',
    data: {
      version_id: versionId,
      module_id: moduleId,
      module_name: moduleName,
      version_string: versionString,
      from,
      to,
      promoted_by: command.requested_by,
      approval_id: approvalId,
      promoted_at: command.now,
    },
  };
}

function invalidTransition(moduleName: string, version: string, from: PromotionState, to: PromotionState): PowernodeError {
  const allowed = PROMOTION_TRANSITIONS[from];
  return new PowernodeError(
    'invalid_transition',
    `cannot promote ${from} to ${to} (${moduleName} ${version}; allowed from ${from}: ${allowed.length > 0 ? allowed.join(', ') : 'none, it is final'})`,
    {
      details: { from, to, allowed, rule: 'transition_allowed' },
    },
  );
}

function retiredIsFinal(moduleName: string, version: string): PowernodeError {
  return new PowernodeError('invalid_transition', `version ${version} of ${moduleName} is retired, which is final: publish a new tag`, {
    details: { promotion_state: 'retired', rule: 'retired_is_final' },
  });
}
