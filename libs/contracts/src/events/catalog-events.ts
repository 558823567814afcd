import { z } from 'zod';
import { approvalPolicySchema, moduleCategorySchema, moduleVarietySchema, promotionStateSchema, versionRejectionCodeSchema } from './catalog-vocabulary.js';
import { lazySchema } from '../lazy-schema.js';

/*
 * Event data of the catalog bounded context (modules, versions, promotion approvals, templates), plus the
 * ingest hand-off events. Field names are snake_case; timestamps are ISO-8601 strings carried in the data so
 * a read model is a pure fold over event data. These schemas are published contracts: a change of meaning is a
 * new schema_version or a new event type, never an edit in place.
 *
 * Streams: `module-registry` (name / repository uniqueness), `module-<module_id>`,
 * `module-version-<version_id>`, `promotion-approval-<approval_id>`, `template-<template_id>`.
 */

const isoTimestamp = z.iso.datetime({ offset: true });
const id = z.string().min(1).max(200);
const digest = z.string().regex(/^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/, 'must be sha256:<64 hex> or sha512:<128 hex>');

/** A module or template name: lowercase letters, digits and hyphens, 1–64 characters, starting with a letter. */
export const catalogNameSchema = lazySchema(() =>
  z.string().regex(/^[a-z](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'must be 1–64 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen'),
);

/** `owner/repo` or `owner/group/repo` as the forge spells it. */
export const giteaRepoFullNameSchema = lazySchema(() =>
  z
    .string()
    .max(300)
    .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)+$/, 'must look like <owner>/<repo> (letters, digits, ".", "_", "-")'),
);

/**
 * The platform-side spec of a module: the authoritative glob lists (seeded from manifest.yaml on first import),
 * its dependency declarations and its priority inside its category.
 */
export const moduleSpecSchema = lazySchema(() =>
  z.object({
    mask: z.array(z.string()),
    file_spec: z.array(z.string()),
    package_spec: z.array(z.string()),
    dependency_spec: z.array(z.string()),
    protected_spec: z.array(z.string()),
    requires: z.array(z.string()),
    provides: z.array(z.string()),
    priority: z.number().int().min(0).max(999),
  }),
);
export type ModuleSpec = z.infer<typeof moduleSpecSchema>;

/** A secret as stored at rest: only ciphertext, never the plain value. */
export const encryptedSecretSchema = lazySchema(() =>
  z.object({
    algorithm: z.string().min(1),
    key_id: z.string().min(1),
    ciphertext: z.string().min(1),
  }),
);
export type EncryptedSecret = z.infer<typeof encryptedSecretSchema>;

// ---- module registry (stream `module-registry`) -------------------------------------------------------------

export const moduleIdentityClaimedSchema = lazySchema(() =>
  z.object({
    module_id: id,
    name: catalogNameSchema,
    gitea_repo_full_name: giteaRepoFullNameSchema,
    claimed_at: isoTimestamp,
  }),
);

export const moduleIdentityReleasedSchema = lazySchema(() =>
  z.object({
    module_id: id,
    name: catalogNameSchema,
    gitea_repo_full_name: giteaRepoFullNameSchema,
    released_at: isoTimestamp,
  }),
);

// ---- NodeModule (stream `module-<module_id>`) -----------------------------------------------------------------

export const moduleRegisteredSchema = lazySchema(() =>
  z.object({
    module_id: id,
    name: catalogNameSchema,
    display_name: z.string().max(200),
    description: z.string(),
    category: moduleCategorySchema,
    variety: moduleVarietySchema,
    gitea_repo_full_name: giteaRepoFullNameSchema,
    cosign_identity_regexp: z.string().min(1),
    cosign_issuer_regexp: z.string().min(1),
    approval_policy: approvalPolicySchema,
    spec: moduleSpecSchema,
    /** True when `spec` came from the manifest given at registration (later manifests no longer seed it). */
    spec_seeded: z.boolean(),
    manifest_yaml: z.string().nullable(),
    webhook_secret: encryptedSecretSchema,
    registered_at: isoTimestamp,
  }),
);

export const moduleSpecSeededSchema = lazySchema(() =>
  z.object({
    module_id: id,
    name: catalogNameSchema,
    spec: moduleSpecSchema,
    /** The version whose manifest seeded the record, when the seed came from a build. */
    source_version_id: id.nullable(),
    seeded_at: isoTimestamp,
  }),
);

export const moduleUpdatedSchema = lazySchema(() =>
  z.object({
    module_id: id,
    name: catalogNameSchema,
    /** Only the fields that changed, with their new values. */
    changes: moduleSpecSchema
      .extend({
        display_name: z.string().max(200),
        description: z.string(),
        category: moduleCategorySchema,
        variety: moduleVarietySchema,
        approval_policy: approvalPolicySchema,
      })
      .partial(),
    updated_at: isoTimestamp,
  }),
);

export const moduleTrustPolicyUpdatedSchema = lazySchema(() =>
  z.object({
    module_id: id,
    name: catalogNameSchema,
    cosign_identity_regexp: z.string().min(1),
    cosign_issuer_regexp: z.string().min(1),
    updated_at: isoTimestamp,
  }),
);

export const moduleWebhookSecretRotatedSchema = lazySchema(() =>
  z.object({
    module_id: id,
    name: catalogNameSchema,
    webhook_secret: encryptedSecretSchema,
    rotated_at: isoTimestamp,
  }),
);

export const moduleDeletedSchema = lazySchema(() =>
  z.object({
    module_id: id,
    name: catalogNameSchema,
    version_ids: z.array(id),
    versions_deleted: z.number().int().min(0),
    deleted_at: isoTimestamp,
  }),
);

// ---- ingest hand-off -----------------------------------------------------------------------------------------

/** The CI webhook was authenticated: a build of `tag` for this module is waiting at `artifact_ref`. */
export const moduleBuildReportedSchema = lazySchema(() =>
  z.object({
    module_id: id,
    module_name: catalogNameSchema,
    tag: z.string().min(1).max(256),
    /** The OCI reference CI reported; empty when it named none (ingest then looks at `<OCI_REGISTRY>/<repository>:<tag>`). */
    artifact_ref: z.string().max(2000),
    delivery_id: z.string().min(1),
    repository_full_name: giteaRepoFullNameSchema,
    /** Hex SHA-256 of the signed body: what a replay under a new delivery id is recognised by (absent before it was recorded). */
    body_sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    /** When the catalog accepted the delivery: the start of its replay window (absent before it was recorded). */
    reported_at: isoTimestamp.optional(),
  }),
);

/** A short summary of the CycloneDX SBOM of a build (the document itself stays in the registry). */
export const sbomSummarySchema = lazySchema(() =>
  z
    .looseObject({
      format: z.string().optional(),
      component_count: z.number().int().min(0).optional(),
    })
    .nullable(),
);

// ---- NodeModuleVersion (stream `module-version-<version_id>`) -------------------------------------------------

/** Ingest pulled and checked the artifact; `cosign_verified: false` records a signature that fails the policy. */
export const moduleVersionBuiltSchema = lazySchema(() =>
  z.object({
    version_id: id,
    module_id: id,
    module_name: catalogNameSchema,
    version_string: z.string().min(1),
    tag: z.string().min(1),
    oci_ref: z.string().min(1),
    oci_digest: digest,
    composefs_digest: digest,
    fsverity_root_hash: digest,
    cosign_verified: z.boolean(),
    signer_identity: z.string().nullable(),
    signer_issuer: z.string().nullable(),
    verification_reason: z.string().optional(),
    sbom_summary: sbomSummarySchema,
    /** The module manifest as JSON (the artifact's config blob): requires, provides, mask, protected_spec, … */
    manifest: z.record(z.string(), z.unknown()),
    built_at: isoTimestamp,
  }),
);

/** Ingest could not turn the build into a usable version; the row stays visible with its reason. */
export const moduleVersionRejectedSchema = lazySchema(() =>
  z.object({
    version_id: id,
    module_id: id,
    module_name: catalogNameSchema,
    tag: z.string().min(1),
    /** Null when the tag is not a semantic version (`not_semver`). */
    version_string: z.string().min(1).nullable(),
    oci_ref: z.string().min(1).nullable(),
    oci_digest: digest.nullable(),
    reason_code: versionRejectionCodeSchema,
    reason: z.string().min(1),
    rejected_at: isoTimestamp,
  }),
);

/**
 * Ingest verified the signature of a recorded version again (after its module's trust policy changed) and
 * the verdict differs from the one recorded. The promotion state is kept; an unverified version can then only
 * be retired.
 */
export const moduleVersionReverifiedSchema = lazySchema(() =>
  z.object({
    version_id: id,
    module_id: id,
    module_name: catalogNameSchema,
    version_string: z.string().min(1),
    /** The manifest whose signatures were checked: must still be the version's. */
    oci_digest: digest,
    cosign_verified: z.boolean(),
    signer_identity: z.string().nullable(),
    signer_issuer: z.string().nullable(),
    verification_reason: z.string().optional(),
    /** The trust policy the signatures were judged against. */
    cosign_identity_regexp: z.string().min(1),
    cosign_issuer_regexp: z.string().min(1),
    requested_by: z.string().min(1),
    reverified_at: isoTimestamp,
  }),
);

export const moduleVersionPromotedSchema = lazySchema(() =>
  z.object({
    version_id: id,
    module_id: id,
    module_name: catalogNameSchema,
    version_string: z.string().min(1),
    from: promotionStateSchema,
    to: promotionStateSchema,
    promoted_by: z.string().min(1),
    /** The granted approval that allowed a `live` promotion, or null. */
    approval_id: id.nullable(),
    promoted_at: isoTimestamp,
  }),
);

// ---- PromotionApproval (stream `promotion-approval-<approval_id>`) --------------------------------------------

export const promotionApprovalRequestedSchema = lazySchema(() =>
  z.object({
    approval_id: id,
    version_id: id,
    module_id: id,
    module_name: catalogNameSchema,
    version_string: z.string().min(1),
    to: z.literal('live'),
    requested_by: z.string().min(1),
    /** The requester's token id, which four-eyes compares; absent in approvals requested before it was recorded. */
    requested_by_id: z.string().min(1).optional(),
    requested_at: isoTimestamp,
    expires_at: isoTimestamp,
  }),
);

export const promotionApprovalGrantedSchema = lazySchema(() =>
  z.object({
    approval_id: id,
    version_id: id,
    approved_by: z.string().min(1),
    approved_at: isoTimestamp,
  }),
);

export const promotionApprovalRejectedSchema = lazySchema(() =>
  z.object({
    approval_id: id,
    version_id: id,
    rejected_by: z.string().min(1),
    reason: z.string().nullable(),
    rejected_at: isoTimestamp,
  }),
);

export const promotionApprovalExpiredSchema = lazySchema(() =>
  z.object({
    approval_id: id,
    version_id: id,
    expired_at: isoTimestamp,
  }),
);

// ---- NodeTemplate (stream `template-<template_id>`) -----------------------------------------------------------

export const templateCreatedSchema = lazySchema(() =>
  z.object({
    template_id: id,
    name: catalogNameSchema,
    description: z.string(),
    created_at: isoTimestamp,
  }),
);

export const moduleAssignedToTemplateSchema = lazySchema(() =>
  z.object({
    template_id: id,
    template_name: catalogNameSchema,
    module_id: id,
    module_name: catalogNameSchema,
    assigned_at: isoTimestamp,
  }),
);

export const moduleUnassignedFromTemplateSchema = lazySchema(() =>
  z.object({
    template_id: id,
    template_name: catalogNameSchema,
    module_id: id,
    module_name: catalogNameSchema,
    unassigned_at: isoTimestamp,
  }),
);

/** Every catalog event type with its data schema. */
export const catalogEventSchemas = {
  ModuleIdentityClaimed: moduleIdentityClaimedSchema,
  ModuleIdentityReleased: moduleIdentityReleasedSchema,
  ModuleRegistered: moduleRegisteredSchema,
  ModuleSpecSeeded: moduleSpecSeededSchema,
  ModuleUpdated: moduleUpdatedSchema,
  ModuleTrustPolicyUpdated: moduleTrustPolicyUpdatedSchema,
  ModuleWebhookSecretRotated: moduleWebhookSecretRotatedSchema,
  ModuleDeleted: moduleDeletedSchema,
  ModuleBuildReported: moduleBuildReportedSchema,
  ModuleVersionBuilt: moduleVersionBuiltSchema,
  ModuleVersionRejected: moduleVersionRejectedSchema,
  ModuleVersionPromoted: moduleVersionPromotedSchema,
  ModuleVersionReverified: moduleVersionReverifiedSchema,
  PromotionApprovalRequested: promotionApprovalRequestedSchema,
  PromotionApprovalGranted: promotionApprovalGrantedSchema,
  PromotionApprovalRejected: promotionApprovalRejectedSchema,
  PromotionApprovalExpired: promotionApprovalExpiredSchema,
  TemplateCreated: templateCreatedSchema,
  ModuleAssignedToTemplate: moduleAssignedToTemplateSchema,
  ModuleUnassignedFromTemplate: moduleUnassignedFromTemplateSchema,
} as const;

export type CatalogEventType = keyof typeof catalogEventSchemas;
export type CatalogEventData<T extends CatalogEventType> = z.infer<(typeof catalogEventSchemas)[T]>;
/** A catalog event as deciders emit it and projections fold it: a tagged union on `type`. */
export type CatalogEvent = { [T in CatalogEventType]: { type: T; data: CatalogEventData<T> } }[CatalogEventType];
/** The member of the catalog event union with the given type. */
export type CatalogEventOf<T extends CatalogEventType> = Extract<CatalogEvent, { type: T }>;

export type ModuleRegisteredData = CatalogEventData<'ModuleRegistered'>;
export type ModuleUpdatedData = CatalogEventData<'ModuleUpdated'>;
export type ModuleBuildReportedData = CatalogEventData<'ModuleBuildReported'>;
export type ModuleVersionBuiltData = CatalogEventData<'ModuleVersionBuilt'>;
export type ModuleVersionRejectedData = CatalogEventData<'ModuleVersionRejected'>;
export type ModuleVersionPromotedData = CatalogEventData<'ModuleVersionPromoted'>;
export type ModuleVersionReverifiedData = CatalogEventData<'ModuleVersionReverified'>;
export type PromotionApprovalRequestedData = CatalogEventData<'PromotionApprovalRequested'>;

/** One event type for the event catalogue: structurally an `EventDefinition` of libs/events. */
export interface CatalogEventDefinition<T extends CatalogEventType = CatalogEventType> {
  type: T;
  schema_version: number;
  schema: (typeof catalogEventSchemas)[T];
}

/** The catalog's event types, ready to register in the event store's catalogue. */
export const catalogEventDefinitions: readonly CatalogEventDefinition[] = (Object.keys(catalogEventSchemas) as CatalogEventType[]).map((type) => ({
  type,
  schema_version: 1,
  schema: catalogEventSchemas[type],
}));

/** True when `type` names a catalog event (projections over the global log skip everything else). */
export function isCatalogEventType(type: string): type is CatalogEventType {
  return Object.prototype.hasOwnProperty.call(catalogEventSchemas, type);
}
