import { createHash } from 'node:crypto';

/*
 * Identities in the catalog that are derived from content, so rediscovering the same thing (a redelivered
 * webhook, a re-run seed) lands on the same stream instead of creating a duplicate.
 */

/** A UUID-shaped id (version nibble 8, RFC 9562 variant) derived from the SHA-256 of `parts`. */
export function contentDerivedId(...parts: string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The id of a NodeModuleVersion: one per module registration and tag. A leading `v` before a digit is ignored,
 * so `v1.2.3` and `1.2.3` name the same version. A module registered again under the same name gets a new
 * module id, and therefore new version ids.
 */
export function moduleVersionIdFor(moduleId: string, tag: string): string {
  return contentDerivedId('module-version', moduleId, tag.replace(/^v(?=\d)/, ''));
}

/** The id of a NodeTemplate, derived from its name (templates are never renamed), so seeding is idempotent. */
export function templateIdFor(name: string): string {
  return contentDerivedId('template', name);
}

/**
 * The id of one CI build report: one per module and SHA-256 of the signed body. A replay of the same body lands
 * on the stream that already holds its report, whatever delivery id it carries (the header is not signed).
 */
export function moduleBuildReportIdFor(moduleId: string, bodySha256: string): string {
  return contentDerivedId('webhook-body', moduleId, bodySha256);
}

/**
 * The id of the `ModuleBuildReported` event of a delivery, namespaced by the module the delivery authenticated
 * as: a delivery id is stored once per module, and one repository's ids never collide with another's.
 */
export function moduleBuildReportedEventIdFor(moduleId: string, deliveryId: string): string {
  return contentDerivedId('webhook-delivery-event', moduleId, deliveryId);
}

/** Stream names of the catalog's aggregates. */
export const catalogStreams = {
  moduleRegistry: (): string => 'module-registry',
  /** Category `module`, so the report is published on `powernode.events.module.ModuleBuildReported`. */
  moduleBuildReport: (reportId: string): string => `module-build-${reportId}`,
  module: (moduleId: string): string => `module-${moduleId}`,
  moduleVersion: (versionId: string): string => `module-version-${versionId}`,
  promotionApproval: (approvalId: string): string => `promotion-approval-${approvalId}`,
  template: (templateId: string): string => `template-${templateId}`,
} as const;
