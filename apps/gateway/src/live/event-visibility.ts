import type { EventEnvelope } from '@powernode/events';
import type { Role } from '../auth/roles.js';

/**
 * Event types whose data every role may read: promotion, ingest verdicts, assignments, instance status and
 * heartbeats. The others (tokens, registrations with the encrypted webhook secret, enrolment) carry material
 * only an administrator reads, so other roles get those events without their data: enough to know that
 * something changed and to read it again through the API they may use.
 */
const PUBLIC_DATA_TYPES: ReadonlySet<string> = new Set([
  'ModuleUpdated',
  'ModuleTrustPolicyUpdated',
  'ModuleDeleted',
  'ModuleBuildReported',
  'ModuleVersionBuilt',
  'ModuleVersionRejected',
  'ModuleVersionPromoted',
  'ModuleVersionReverified',
  'PromotionApprovalRequested',
  'PromotionApprovalGranted',
  'PromotionApprovalRejected',
  'PromotionApprovalExpired',
  'TemplateCreated',
  'ModuleAssignedToTemplate',
  'ModuleUnassignedFromTemplate',
  'NodeCreated',
  'NodeChannelChanged',
  'InstanceStatusChanged',
  'InstanceHeartbeatReceived',
  'InstanceHeartbeatStale',
  'InstanceTerminated',
]);

/** An event of the live stream as a role may see it: whole for an administrator, without restricted data for others. */
export type VisibleEvent = EventEnvelope | (Omit<EventEnvelope, 'data'> & { data: null; data_withheld: true });

/** The event as `role` may receive it on the live stream. */
export function visibleEvent(event: EventEnvelope, role: Role): VisibleEvent {
  if (role === 'admin' || PUBLIC_DATA_TYPES.has(event.type)) return event;
  return { ...event, data: null, data_withheld: true };
}
