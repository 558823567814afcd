/**
 * The catalog's pure domain: deciders (commands → events), projections (events → read models) and the compose
 * preview. No I/O here: a command handler loads state, gathers the facts a command needs from read models,
 * calls `decide`, appends the events with the stream's expected version, and replies.
 *
 * Aggregates and streams (names from `catalogStreams` in @powernode/contracts):
 *
 *   moduleRegistryDecider     `module-registry`                name + repository uniqueness
 *     ClaimModuleIdentity{module_id,name,gitea_repo_full_name,now} → ModuleIdentityClaimed | already_exists
 *     ReleaseModuleIdentity{module_id,now}                          → ModuleIdentityReleased (no-op if not held)
 *
 *   moduleDecider             `module-<module_id>`             module_id is a fresh uuid per registration
 *     RegisterModule{…, manifest_yaml?, webhook_secret:{encrypted, entropy_bytes}, now} → ModuleRegistered
 *     SeedModuleSpec{manifest, source_version_id, now}  → ModuleSpecSeeded once (no-op when seeded or edited)
 *     UpdateModule{changes, now}                         → ModuleUpdated (only changed fields; no-op if none)
 *     UpdateTrustPolicy{cosign_identity_regexp, cosign_issuer_regexp, now} → ModuleTrustPolicyUpdated
 *     RotateWebhookSecret{webhook_secret, now}           → ModuleWebhookSecretRotated
 *     DeleteModule{assigned_templates, version_ids, now} → ModuleDeleted | module_assigned (lists templates)
 *
 *   moduleBuildReportDecider  `module-build-<report_id>`      report_id = moduleBuildReportIdFor(module_id, body_sha256)
 *     ReportModuleBuild{delivery_id, body_sha256, module, repository_full_name, tag, artifact_ref, now}
 *       → ModuleBuildReported once per signed body within WEBHOOK_REPLAY_WINDOW_MS (a replay appends nothing,
 *       whatever its delivery id); refusals: validation_failed with details.field
 *       and rule tag_required, tag_length (field `ref`) or artifact_ref_length (field `artifact`)
 *
 *   moduleVersionDecider      `module-version-<version_id>`    version_id = moduleVersionIdFor(module_id, tag)
 *     RecordBuild{build}          → ModuleVersionBuilt (idempotent on redelivery)
 *     RecordRejection{rejection}  → ModuleVersionRejected
 *     RecordReverification{reverification} → ModuleVersionReverified (no-op when the verdict is unchanged)
 *       refusals: not_found, conflict (rejected version, or the build changed since it was checked)
 *     PromoteVersion{to, requested_by, approval_policy, dependencies, approval, now} → ModuleVersionPromoted
 *       refusals: not_found, validation_failed (unknown state), invalid_transition, unverified_signature,
 *       dependency_not_promoted (details.unmet), approval_required, approval_expired
 *
 *   promotionApprovalDecider  `promotion-approval-<approval_id>`
 *     RequestPromotionApproval{approval_id, version, requested_by, now, ttl_ms?} → PromotionApprovalRequested
 *     ApprovePromotion / RejectPromotion{approver, approver_roles, now} → Granted / Rejected
 *       refusals: not_found, approval_expired, invalid_transition (decided once), forbidden, self_approval
 *     ExpireApproval{now} → PromotionApprovalExpired (for pending approvals past their deadline)
 *
 *   templateDecider           `template-<template_id>`         template_id = templateIdFor(name)
 *     CreateTemplate{template_id, name, description?, now} → TemplateCreated | already_exists
 *     AssignModule{module_name, module, closure:{before, after}, now} → ModuleAssignedToTemplate
 *       refusals: not_found, already_assigned, provides_conflict, dependency_cycle
 *     UnassignModule{module_name, now} → ModuleUnassignedFromTemplate (no-op when absent)
 *
 * Typical handler flows:
 *   create module: moduleIdentity claim (registry) → RegisterModule (module stream); reply the plain secret once.
 *     Mint the secret with ≥ 32 random bytes, encrypt it, pass {encrypted, entropy_bytes}.
 *   webhook: check the HMAC with the module's secret (unknown repository and bad signature: the same
 *     `unauthenticated`), then ReportModuleBuild with event id moduleBuildReportedEventIdFor(delivery_id);
 *     reply {delivery_id, duplicate: nothing appended}.
 *   delete module: DeleteModule{assigned_templates: templatesUsingModule(...), version_ids: moduleVersionIds(...)}
 *     → ReleaseModuleIdentity; reply {deleted:true, versions_deleted}.
 *   promote: PromoteVersion with approval:null and dependencies = dependencyView(catalogFactsFromReadModels(…)). When it refuses with `approval_required` (to live under require_approval):
 *     reuse pendingApprovalForVersion() or RequestPromotionApproval, reply {approval:{id, status:"pending"}}.
 *   approve: ApprovePromotion on the approval stream, then PromoteVersion{to:'live', approval:{…status:'granted'}}
 *     by the approver on the version stream; reply {version}.
 *   assign: AssignModule with closure = assignmentClosureFacts(assigned names, module_name, catalog facts).
 *   compose preview: templateComposePreview(template module names, catalog facts).
 *
 * Read models and queries (modulesProjection, versionsProjection, templatesProjection, approvalsProjection,
 * webhookRoutesProjection, catalogQueries, the compose preview) live in @powernode/catalog-views, which the
 * gateway shares to serve reads from its own copies.
 */

export {
  moduleRegistryDecider,
  moduleIdHoldingName,
  type ModuleRegistryCommand,
  type ModuleRegistryEvent,
  type ModuleRegistryState,
} from './module-registry.decider.js';
export {
  moduleDecider,
  MIN_WEBHOOK_SECRET_BYTES,
  type ModuleChanges,
  type ModuleCommand,
  type ModuleEvent,
  type ModuleRecord,
  type ModuleState,
  type WebhookSecretInput,
} from './module.decider.js';
export {
  moduleBuildReportDecider,
  MAX_ARTIFACT_REF_LENGTH,
  MAX_TAG_LENGTH,
  WEBHOOK_REPLAY_WINDOW_MS,
  type ModuleBuildReportCommand,
  type ModuleBuildReportEvent,
  type ModuleBuildReportState,
} from './module-build-report.decider.js';
export {
  moduleVersionDecider,
  unmetDependencies,
  type ApprovalFact,
  type ModuleVersionCommand,
  type ModuleVersionEvent,
  type ModuleVersionState,
  type RecordedVersion,
  type UnmetDependency,
} from './module-version.decider.js';
export {
  promotionApprovalDecider,
  isPastDeadline,
  APPROVER_ROLES,
  type PromotionApprovalCommand,
  type PromotionApprovalEvent,
  type PromotionApprovalRecord,
  type PromotionApprovalState,
} from './promotion-approval.decider.js';
export { templateDecider, type TemplateCommand, type TemplateEvent, type TemplateRecord, type TemplateState } from './template.decider.js';
export { seedTemplateCommands } from './catalog-seed.js';

export { emptyModuleSpec, specFromManifest, parseManifestDocument, parseManifestYaml } from './manifest-seed.js';
export { anchorTrustPattern, assertTrustPatternCompiles } from './trust-policy.js';
export { assertSpecGlobsValid, GLOB_FIELDS } from './spec-globs.js';
