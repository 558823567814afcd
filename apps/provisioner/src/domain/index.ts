/**
 * The provisioner's pure domain: deciders (commands → events), read models (events → views), the desired state
 * of every instance and the drift report. No I/O here: a command handler loads state, gathers the facts a
 * command needs from read models, calls `decide`, appends the events with the stream's expected version, and
 * then (for instance commands) asks the hypervisor driver (../drivers) to make the world match.
 *
 * Aggregates and streams (names from `provisionerStreams` in @powernode/contracts):
 *
 *   nodeRegistryDecider   `node-registry`            hostname uniqueness
 *     ClaimHostname{node_id, hostname, now}   → NodeHostnameClaimed | already_exists (hostname_unique, node_id_unique)
 *                                                | validation_failed (hostname_format); a retried claim is a no-op
 *     ReleaseHostname{node_id, now}           → NodeHostnameReleased (no-op when nothing is held)
 *
 *   nodeDecider           `node-<node_id>`           node_id is a fresh uuid
 *     CreateNode{node_id, hostname, node_template_id, channel?, template_exists, created_by, now} → NodeCreated
 *       channel = the lowest promotion state the node accepts: `live` (default), `blessed` or `staging`
 *       refusals: validation_failed (hostname_format, channel_value), not_found (template_must_exist),
 *       already_exists (node_id_unique; the same create again is a no-op)
 *     ChangeNodeChannel{node_id, channel, changed_by, now} → NodeChannelChanged (no-op when unchanged)
 *
 *   instanceDecider       `instance-<instance_id>`   instance_id is a fresh uuid
 *     RequestProvision{instance_id, node_id, node (facts | null), driver, enrolment_token_sha256,
 *                      enrolment_expires_at, requested_by, now} → InstanceProvisionRequested (status pending)
 *       refusals: not_found (node_must_exist), already_exists (instance_id_unique), validation_failed
 *     ChangeStatus{instance_id, to, reason, now} → InstanceStatusChanged{from, to, reason}
 *       the machine is INSTANCE_TRANSITIONS (instance-status-machine.ts); a refused move is `invalid_transition`
 *       naming from, to and what `from` allows (rule instance_status_machine); the current status again is a
 *       no-op; `terminated` only through TerminateInstance
 *     TerminateInstance{instance_id, reason?, terminated_by, now} → InstanceTerminated (from any status;
 *       idempotent: a terminated instance yields no events and no error)
 *     EnrolAgent{instance_id, presented_token_sha256, credential_sha256, agent_version, now} → InstanceEnrolled
 *       refusals: unauthenticated (token invalid, used or expired: one message, the rule in details),
 *       conflict (instance_terminated)
 *     RecordHeartbeat{instance_id, report, now, keepalive_ms?} → [InstanceStatusChanged → running on the first
 *       report from pending/provisioning/starting/rebooting] + InstanceHeartbeatReceived when the report changed
 *       (running set, root hash, errors, agent version, boot id), clears a stale mark, or the keep-alive
 *       interval (15 min) passed; otherwise [] and the handler only updates its liveness table.
 *       refusals: conflict (instance_terminated: the agent should stop)
 *     CheckHeartbeat{instance_id, now, interval_ms, missed_beats?, last_heartbeat_at, watching_since}
 *       → InstanceHeartbeatStale for a running instance silent longer than interval × missed beats (3)
 *     RecordCommandExecution{instance_id, argv, outcome, requested_by, now} → InstanceCommandExecuted (argv,
 *       exit code, timed_out, truncated, duration; never the output). `assertAcceptsCommands` is the same rule
 *       checked before the driver runs anything: not_found, instance_terminated, instance_not_running
 *       (pending, provisioning, stopping, stopped, error)
 *
 * Heartbeats and the log: an agent reports every ~30 s; only changes (and a keep-alive) become events. The
 * exact latest report time is kept by the provisioner in a liveness table and merged by `instanceView`;
 * `CheckHeartbeat` takes it as `last_heartbeat_at` and `watching_since` (the provisioner's start) so a
 * restarted provisioner does not mark every instance stale.
 *
 * Read models (each a ProvisionerProjection: register with a ProjectionRunner; rebuilt by replay):
 *   desiredStateProjection  catalog + provisioner events → DesiredStateModel
 *     desiredModulesFor(state, {instance_id} | {node_id}) → {node_id, node_template_id, channel,
 *       modules: {<module_name>: {module_id, version_id, version_string, promotion_state, composefs_digest,
 *       oci_ref, oci_digest, priority, category}}, unresolved: UnresolvedReason[]}
 *       = the template's dependency closure, each module at its highest semver version that is
 *       cosign_verified, not retired, and promoted at least to the node's channel. Recomputed on every call,
 *       so assignment, promotion, retirement, re-verification, deletion and channel changes need no apply step.
 *   instancesProjection     → instanceView(state, id, liveness?) / listInstances(state, filter)
 *   nodesProjection         → nodeView(state, id) / nodeByHostname / listNodes
 *
 * Drift: driftReport(desired, running_module_digests) → {drift, missing:{name: want}, extra:{name: have},
 *   mismatched:{name:{want, have}}} comparing composefs digests; instanceDriftReport(desired, instanceView)
 *   adds counts, last_heartbeat_at, heartbeat_stale and the unresolved reasons (system_drift_report).
 * Staleness: isHeartbeatStale(last, now, intervalMs, missedBeats = 3).
 *
 * Typical handler flows:
 *   create node: ClaimHostname (registry) → CreateNode{template_exists from the catalog's templates read model}
 *     (node stream); on a refusal of CreateNode, ReleaseHostname. Reply {node: nodeView(...)}.
 *   provision: the enrolment token (HMAC of the instance id under the provisioner's key: 256 bits, recomputable
 *     after a crash; see ../agent-secrets.ts), RequestProvision with its SHA-256 → driver.create
 *     → ChangeStatus provisioning → driver.start → ChangeStatus starting; a driver failure → ChangeStatus error.
 *   terminate: TerminateInstance, then driver.destroy (idempotent); a reconcile loop destroys whatever a
 *     terminated instance still has in its driver.
 */

export {
  nodeRegistryDecider,
  nodeIdHoldingHostname,
  type NodeRegistryCommand,
  type NodeRegistryEvent,
  type NodeRegistryState,
} from './node-registry.decider.js';
export { nodeDecider, type NodeCommand, type NodeEvent, type NodeRecord, type NodeState } from './node.decider.js';
export { parseChannel, parseHostname } from './node-fields.js';
export {
  instanceDecider,
  type HeartbeatReport,
  type InstanceCommand,
  type InstanceEvent,
  type InstanceRecord,
  type InstanceState,
  type NodeFacts,
  type RecordedHeartbeat,
} from './instance.decider.js';
export { assertAcceptsCommands, type CommandExecutionFacts } from './instance-exec.js';
export { instanceNeedingReconcile, runsOnHost } from './instance-reactions.js';
export {
  INSTANCE_TRANSITIONS,
  STATUSES_A_HEARTBEAT_MARKS_RUNNING,
  assertInstanceTransition,
  isInstanceTransitionAllowed,
  parseInstanceStatus,
} from './instance-status-machine.js';
export {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_KEEPALIVE_MS,
  DEFAULT_MISSED_BEATS,
  isHeartbeatStale,
  laterOf,
  staleThresholdMs,
} from './heartbeat-staleness.js';
export { provisionerProjection, type ProvisionerProjection, type ProvisionerReadEvent } from './provisioner-projection.js';
export { desiredStateProjection, type DesiredStateModel, type ModuleFacts, type VersionFacts } from './desired-state.projection.js';
export { desiredModulesFor, type DesiredModule, type DesiredModules, type DesiredStateTarget, type UnresolvedReason } from './desired-modules.js';
export {
  instancesProjection,
  instanceView,
  listInstances,
  type InstanceFilter,
  type InstanceLiveness,
  type InstancesReadModel,
  type InstanceView,
} from './instances.projection.js';
export { listNodes, nodeByHostname, nodesProjection, nodeView, type NodesReadModel, type NodeView } from './nodes.projection.js';
export { driftReport, instanceDriftReport, type DriftReport, type InstanceDriftReport } from './drift-report.js';
export {
  moduleCompositionProjection,
  NO_INIT,
  type ComposedModuleSpec,
  type ModuleCompositionModel,
  type VersionInit,
} from './module-composition.projection.js';
export { agentCredentialsProjection, instanceOfCredential, type AgentCredentialsModel } from './agent-credentials.projection.js';
export { agentDesiredState, desiredGeneration } from './agent-desired-state.js';
export { artifactCacheRoots } from './artifact-cache-roots.js';
export { existingInstance } from './instance-refusals.js';
