import { PowernodeError, type PromotionState } from '@powernode/contracts';
import { compareVersionsNewestFirst, type VersionCandidate } from '@powernode/dependencies';
import { compareText, entryOf, setEntry } from '@powernode/event-core';
import { catalogProjection } from './catalog-projection.js';
import { manifestDependencyFacts } from './manifest-facts.js';
import { paginate, type PageRequest, type PageResult, type SortKey } from './pagination.js';

/** A version exactly as `system_list_module_versions` returns it. */
export interface ModuleVersionView {
  id: string;
  module_name: string;
  version_string: string;
  promotion_state: PromotionState;
  composefs_digest: string | null;
  fsverity_root_hash: string | null;
  oci_ref: string | null;
  oci_digest: string | null;
  cosign_verified: boolean;
  signer_identity: string | null;
  signer_issuer: string | null;
  /** Why the version cannot be promoted: the ingest rejection, or the signature that failed the trust policy. */
  rejection_reason: string | null;
  created_at: string;
}

/** What the read model keeps per version: the view plus what promotion and composition need. */
export interface ModuleVersionRow extends ModuleVersionView {
  module_id: string;
  tag: string;
  /** False for a build ingest rejected: it is listed but never resolves a dependency. */
  usable: boolean;
  requires: string[];
  provides: string[];
}

export interface VersionsReadModel {
  /** module id → version id → row */
  by_module: Record<string, Record<string, ModuleVersionRow>>;
  /** module name → id of the module registered under it */
  module_ids_by_name: Record<string, string>;
  /** version id → module id */
  module_of_version: Record<string, string>;
}

/**
 * Stores a version row in place of the previous one (rows are never changed once stored: a caller may hold
 * one); versions of a module that is not registered (deleted meanwhile) are dropped.
 */
function upsertRow(state: VersionsReadModel, moduleId: string, row: ModuleVersionRow): VersionsReadModel {
  const versions = entryOf(state.by_module, moduleId);
  if (versions === undefined) return state;
  setEntry(versions, row.id, row);
  setEntry(state.module_of_version, row.id, moduleId);
  return state;
}

function existingRow(state: VersionsReadModel, moduleId: string, versionId: string): ModuleVersionRow | undefined {
  const versions = entryOf(state.by_module, moduleId);
  return versions === undefined ? undefined : entryOf(versions, versionId);
}

/** Versions per module, as ingest recorded them, with their promotion state. Updates its state in place. */
export const versionsProjection = catalogProjection<VersionsReadModel>({
  name: 'catalog-module-versions',
  version: 1,
  initialState: () => ({ by_module: {}, module_ids_by_name: {}, module_of_version: {} }),
  handlers: {
    ModuleRegistered(state, event) {
      if (entryOf(state.by_module, event.data.module_id) === undefined) setEntry(state.by_module, event.data.module_id, {});
      setEntry(state.module_ids_by_name, event.data.name, event.data.module_id);
      return state;
    },
    ModuleDeleted(state, event) {
      // Costs the module's own versions, each of which an earlier event added: O(1) amortised per event.
      const removed = entryOf(state.by_module, event.data.module_id);
      if (removed !== undefined) for (const id of Object.keys(removed)) delete state.module_of_version[id];
      for (const id of event.data.version_ids) delete state.module_of_version[id];
      delete state.by_module[event.data.module_id];
      if (entryOf(state.module_ids_by_name, event.data.name) === event.data.module_id) delete state.module_ids_by_name[event.data.name];
      return state;
    },
    ModuleVersionBuilt(state, event) {
      const d = event.data;
      const previous = existingRow(state, d.module_id, d.version_id);
      const { requires, provides } = manifestDependencyFacts(d.manifest);
      return upsertRow(state, d.module_id, {
        id: d.version_id,
        module_name: d.module_name,
        version_string: d.version_string,
        promotion_state: previous?.promotion_state ?? 'built',
        composefs_digest: d.composefs_digest,
        fsverity_root_hash: d.fsverity_root_hash,
        oci_ref: d.oci_ref,
        oci_digest: d.oci_digest,
        cosign_verified: d.cosign_verified,
        signer_identity: d.signer_identity,
        signer_issuer: d.signer_issuer,
        rejection_reason: d.cosign_verified
          ? null
          : `signature_untrusted: ${d.verification_reason ?? "the signature does not match the module's trust policy"}`,
        created_at: previous?.created_at ?? d.built_at,
        module_id: d.module_id,
        tag: d.tag,
        usable: true,
        requires,
        provides,
      });
    },
    ModuleVersionRejected(state, event) {
      const d = event.data;
      const previous = existingRow(state, d.module_id, d.version_id);
      return upsertRow(state, d.module_id, {
        id: d.version_id,
        module_name: d.module_name,
        version_string: d.version_string ?? d.tag,
        promotion_state: previous?.promotion_state ?? 'built',
        composefs_digest: null,
        fsverity_root_hash: null,
        oci_ref: d.oci_ref,
        oci_digest: d.oci_digest,
        cosign_verified: false,
        signer_identity: null,
        signer_issuer: null,
        rejection_reason: `${d.reason_code}: ${d.reason}`,
        created_at: previous?.created_at ?? d.rejected_at,
        module_id: d.module_id,
        tag: d.tag,
        usable: false,
        requires: [],
        provides: [],
      });
    },
    ModuleVersionPromoted(state, event) {
      const row = existingRow(state, event.data.module_id, event.data.version_id);
      if (row === undefined) return state;
      return upsertRow(state, row.module_id, { ...row, promotion_state: event.data.to });
    },
    ModuleVersionReverified(state, event) {
      const d = event.data;
      const row = existingRow(state, d.module_id, d.version_id);
      if (row === undefined) return state;
      return upsertRow(state, row.module_id, {
        ...row,
        cosign_verified: d.cosign_verified,
        signer_identity: d.signer_identity,
        signer_issuer: d.signer_issuer,
        rejection_reason: d.cosign_verified
          ? null
          : `signature_untrusted: ${d.verification_reason ?? "the signature does not match the module's trust policy"}`,
      });
    },
  },
});

/** Exactly the fields of `system_list_module_versions`. */
export function toVersionView(row: ModuleVersionRow): ModuleVersionView {
  return {
    id: row.id,
    module_name: row.module_name,
    version_string: row.version_string,
    promotion_state: row.promotion_state,
    composefs_digest: row.composefs_digest,
    fsverity_root_hash: row.fsverity_root_hash,
    oci_ref: row.oci_ref,
    oci_digest: row.oci_digest,
    cosign_verified: row.cosign_verified,
    signer_identity: row.signer_identity,
    signer_issuer: row.signer_issuer,
    rejection_reason: row.rejection_reason,
    created_at: row.created_at,
  };
}

const versionKey = (row: ModuleVersionRow): SortKey => [row.version_string, row.created_at, row.id];

/** Newest first: semver precedence, then creation time (later first), then id. */
function compareVersionKeys(a: SortKey, b: SortKey): number {
  return compareVersionsNewestFirst(String(a[0]), String(b[0])) || compareText(String(b[1]), String(a[1])) || compareText(String(a[2]), String(b[2]));
}

/** A new array of the module's rows, newest first (the rows themselves are never changed once stored). */
function rowsOf(state: VersionsReadModel, moduleName: string): ModuleVersionRow[] | null {
  const id = entryOf(state.module_ids_by_name, moduleName);
  if (id === undefined) return null;
  return Object.values(entryOf(state.by_module, id) ?? {}).sort((a, b) => compareVersionKeys(versionKey(a), versionKey(b)));
}

/** The versions of a module, newest first, one page at a time; refuses an unknown module with `not_found`. */
export function listModuleVersions(state: VersionsReadModel, moduleName: string, page: PageRequest = {}): PageResult<ModuleVersionView> {
  const rows = rowsOf(state, moduleName);
  if (rows === null)
    throw new PowernodeError('not_found', `no module named "${moduleName}": list modules with system_list_modules`, { details: { module_name: moduleName } });
  const result = paginate(rows, versionKey, compareVersionKeys, page);
  return { items: result.items.map(toVersionView), next_cursor: result.next_cursor };
}

/**
 * One version's row (with module id, tag, requires); refuses with `not_found`. The row is a snapshot: later
 * events store a new row instead of changing this one.
 */
export function getModuleVersion(state: VersionsReadModel, versionId: string): ModuleVersionRow {
  const moduleId = entryOf(state.module_of_version, versionId);
  const row = moduleId === undefined ? undefined : existingRow(state, moduleId, versionId);
  if (row === undefined)
    throw new PowernodeError('not_found', `no module version ${versionId}: list versions with system_list_module_versions`, {
      details: { version_id: versionId },
    });
  return row;
}

/** The usable versions of a module with their promotion state (dependency resolution input); empty for an unknown module. */
export function versionCandidates(state: VersionsReadModel, moduleName: string): VersionCandidate[] {
  return (rowsOf(state, moduleName) ?? []).filter((r) => r.usable).map((r) => ({ version: r.version_string, promotion_state: r.promotion_state }));
}

/** Ids of every version of a module (DeleteModule's `version_ids`). */
export function moduleVersionIds(state: VersionsReadModel, moduleName: string): string[] {
  return (rowsOf(state, moduleName) ?? []).map((r) => r.id);
}
