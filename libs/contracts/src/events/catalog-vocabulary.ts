import { z } from 'zod';
import { lazySchema } from '../lazy-schema.js';

/**
 * The catalog's closed vocabularies, kept exactly as the tutorial writes them. Every event, command and
 * read model of the catalog uses these lists, so a new value is added here once.
 */

/** Promotion states of a NodeModuleVersion, in promotion order (`retired` is terminal and outside the order). */
export const PROMOTION_STATES = ['built', 'staging', 'blessed', 'live', 'retired'] as const;
export const promotionStateSchema = lazySchema(() => z.enum(PROMOTION_STATES));
export type PromotionState = z.infer<typeof promotionStateSchema>;

/**
 * The allowed promotion transitions (CONTRACT §2). Same-state moves are not listed and therefore refused;
 * `staging → built` is the re-bake path.
 */
export const PROMOTION_TRANSITIONS: Readonly<Record<PromotionState, readonly PromotionState[]>> = {
  built: ['staging', 'retired'],
  staging: ['blessed', 'built', 'retired'],
  blessed: ['live', 'retired'],
  live: ['retired'],
  retired: [],
};

/** The module categories the catalog is seeded with, in layer order (position = index + 1). */
export const SEEDED_MODULE_CATEGORIES = ['system-base', 'network-overlay', 'container-runtimes', 'security-hardening', 'userland'] as const;
export const moduleCategorySchema = lazySchema(() => z.enum(SEEDED_MODULE_CATEGORIES));
export type ModuleCategory = z.infer<typeof moduleCategorySchema>;

/** `subscription` is a publishable base module; `config` / `instance` are dependant overrides. */
export const MODULE_VARIETIES = ['subscription', 'config', 'instance'] as const;
export const moduleVarietySchema = lazySchema(() => z.enum(MODULE_VARIETIES));
export type ModuleVariety = z.infer<typeof moduleVarietySchema>;

/** How promotion to `live` is granted: by a second principal (default) or immediately. */
export const APPROVAL_POLICIES = ['require_approval', 'auto_approve'] as const;
export const approvalPolicySchema = lazySchema(() => z.enum(APPROVAL_POLICIES));
export type ApprovalPolicy = z.infer<typeof approvalPolicySchema>;
export const DEFAULT_APPROVAL_POLICY: ApprovalPolicy = 'require_approval';

/** How long a pending promotion approval stays valid unless the command says otherwise (4 h). */
export const DEFAULT_APPROVAL_TTL_MS = 4 * 60 * 60 * 1000;

/** Why ingest refused to record a build as a usable version. */
export const VERSION_REJECTION_CODES = [
  'signature_missing',
  'digest_mismatch',
  'fsverity_mismatch',
  'manifest_invalid',
  'not_semver',
  'registry_unreachable',
] as const;
export const versionRejectionCodeSchema = lazySchema(() => z.enum(VERSION_REJECTION_CODES));
export type VersionRejectionCode = z.infer<typeof versionRejectionCodeSchema>;

/** Status of a PromotionApproval. */
export const APPROVAL_STATUSES = ['pending', 'granted', 'rejected', 'expired'] as const;
export const approvalStatusSchema = lazySchema(() => z.enum(APPROVAL_STATUSES));
export type ApprovalStatus = z.infer<typeof approvalStatusSchema>;

/** The templates the catalog is seeded with. */
export const SEEDED_TEMPLATE_NAMES = ['base', 'hardened'] as const;
