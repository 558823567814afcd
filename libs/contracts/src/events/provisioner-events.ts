import { z } from 'zod';
import { catalogNameSchema } from './catalog-events.js';
import { lazySchema } from '../lazy-schema.js';

/*
 * Event data of the provisioner bounded context (nodes and their instances). Field names are snake_case;
 * timestamps are ISO-8601 strings carried in the data so a read model is a pure fold over event data. These
 * schemas are published contracts: a change of meaning is a new schema_version or a new event type.
 *
 * Streams: `node-registry` (hostname uniqueness), `node-<node_id>`, `instance-<instance_id>`.
 *
 * Heartbeats are not all events. An agent reports every ~30 s; recording each report would put millions of
 * identical events a day into the log for a modest fleet. `InstanceHeartbeatReceived` is appended only when a
 * report changes something the platform reasons about (the running set, the composed root hash, the error
 * list, the agent version or boot), when it moves the instance to `running` or clears a stale mark, and at
 * most every keep-alive interval otherwise. The exact time of the latest report lives in the provisioner's
 * liveness table (telemetry, not a fact of record) and is merged into the instance view when it is newer.
 */

const isoTimestamp = z.iso.datetime({ offset: true });
const id = z.string().min(1).max(200);
const digest = z.string().regex(/^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/, 'must be sha256:<64 hex> or sha512:<128 hex>');
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (a SHA-256 digest)');

/** Statuses of a NodeInstance (CONTRACT §2), in lifecycle order. */
export const INSTANCE_STATUSES = ['pending', 'provisioning', 'starting', 'running', 'stopping', 'stopped', 'rebooting', 'terminated', 'error'] as const;
export const instanceStatusSchema = lazySchema(() => z.enum(INSTANCE_STATUSES));
export type InstanceStatus = z.infer<typeof instanceStatusSchema>;

/**
 * Hypervisor drivers whose instances are machines booting an init system from a base OS module (CONTRACT §5):
 * they need a system-base module, and the tutorial's "check on the instance" applies to them.
 */
export const MACHINE_DRIVER_KINDS: ReadonlySet<string> = new Set(['nspawn', 'qemu']);

/**
 * The lowest promotion state a node accepts: `live` for the fleet, `blessed` or `staging` for test nodes. A
 * node on `staging` takes the newest version that reached staging or beyond.
 */
export const NODE_CHANNELS = ['staging', 'blessed', 'live'] as const;
export const nodeChannelSchema = lazySchema(() => z.enum(NODE_CHANNELS));
export type NodeChannel = z.infer<typeof nodeChannelSchema>;
export const DEFAULT_NODE_CHANNEL: NodeChannel = 'live';

/**
 * A node's hostname: RFC 1123 labels of lowercase letters, digits and hyphens joined by dots, at most 253
 * characters. Lowercase only, so uniqueness needs no case folding and the name is what DNS will answer.
 */
export const hostnameSchema = lazySchema(() =>
  z
    .string()
    .max(253, 'must be at most 253 characters')
    .regex(
      /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/,
      'must be dot-separated labels of 1–63 lowercase letters, digits or hyphens, not starting or ending with a hyphen',
    ),
);

/** What an agent runs: module name → composefs digest of the running version (`{"my-redis": "sha256:…"}`). */
export const runningModuleDigestsSchema = lazySchema(() => z.record(catalogNameSchema, digest));
export type RunningModuleDigests = z.infer<typeof runningModuleDigestsSchema>;

/** A problem an agent reports with its heartbeat; `module` is null for instance-wide problems. */
export const agentReportedErrorSchema = lazySchema(() =>
  z.object({
    module: catalogNameSchema.nullable(),
    code: z.string().min(1).max(100).nullable(),
    message: z.string().min(1).max(2000),
  }),
);
export type AgentReportedError = z.infer<typeof agentReportedErrorSchema>;

// ---- node registry (stream `node-registry`) -----------------------------------------------------------------

export const nodeHostnameClaimedSchema = lazySchema(() =>
  z.object({
    node_id: id,
    hostname: hostnameSchema,
    claimed_at: isoTimestamp,
  }),
);

export const nodeHostnameReleasedSchema = lazySchema(() =>
  z.object({
    node_id: id,
    hostname: hostnameSchema,
    released_at: isoTimestamp,
  }),
);

// ---- Node (stream `node-<node_id>`) -------------------------------------------------------------------------

export const nodeCreatedSchema = lazySchema(() =>
  z.object({
    node_id: id,
    hostname: hostnameSchema,
    node_template_id: id,
    channel: nodeChannelSchema,
    /** Memory and vCPUs of the node's VM instances (absent: the provisioner's defaults). */
    resources: z.object({ memory_mb: z.number().int().min(128).optional(), vcpus: z.number().int().min(1).optional() }).optional(),
    created_by: z.string().min(1),
    created_at: isoTimestamp,
  }),
);

export const nodeChannelChangedSchema = lazySchema(() =>
  z.object({
    node_id: id,
    from: nodeChannelSchema,
    to: nodeChannelSchema,
    changed_by: z.string().min(1),
    changed_at: isoTimestamp,
  }),
);

// ---- NodeInstance (stream `instance-<instance_id>`) ---------------------------------------------------------

/** An instance of a node was asked for; it starts `pending`. Only the enrolment token's digest is recorded. */
export const instanceProvisionRequestedSchema = lazySchema(() =>
  z.object({
    instance_id: id,
    node_id: id,
    hostname: hostnameSchema,
    node_template_id: id,
    /** The hypervisor driver that runs it (`local`, `libvirt`, …). */
    driver: z.string().min(1).max(50),
    /**
     * The provisioner host whose driver runs it (`POWERNODE_PROVISIONER_HOST`): only that host's provisioner acts
     * on the instance's events. Absent on instances requested before hosts were named; any provisioner runs those.
     */
    provisioner_host: z.string().min(1).max(253).optional(),
    enrolment_token_sha256: sha256Hex,
    enrolment_expires_at: isoTimestamp,
    requested_by: z.string().min(1),
    requested_at: isoTimestamp,
  }),
);

export const instanceStatusChangedSchema = lazySchema(() =>
  z.object({
    instance_id: id,
    from: instanceStatusSchema,
    to: instanceStatusSchema,
    reason: z.string().min(1).max(2000),
    changed_at: isoTimestamp,
  }),
);

/** The agent exchanged its one-time enrolment token for a credential; only the credential's digest is kept. */
export const instanceEnrolledSchema = lazySchema(() =>
  z.object({
    instance_id: id,
    credential_sha256: sha256Hex,
    agent_version: z.string().min(1).max(100).nullable(),
    enrolled_at: isoTimestamp,
  }),
);

export const instanceHeartbeatReceivedSchema = lazySchema(() =>
  z.object({
    instance_id: id,
    running_module_digests: runningModuleDigestsSchema,
    /** fs-verity digest of the composed root the agent mounted, when it reports one. */
    composed_root_hash: digest.nullable(),
    errors: z.array(agentReportedErrorSchema).max(100),
    agent_version: z.string().min(1).max(100).nullable(),
    boot_id: z.string().min(1).max(100).nullable(),
    at: isoTimestamp,
  }),
);

/** No heartbeat for longer than the stale threshold; cleared by the next heartbeat. */
export const instanceHeartbeatStaleSchema = lazySchema(() =>
  z.object({
    instance_id: id,
    /** Null when the agent was never heard from since the instance started. */
    last_heartbeat_at: isoTimestamp.nullable(),
    threshold_ms: z.number().int().positive(),
    detected_at: isoTimestamp,
  }),
);

export const instanceTerminatedSchema = lazySchema(() =>
  z.object({
    instance_id: id,
    from: instanceStatusSchema,
    reason: z.string().min(1).max(2000),
    terminated_by: z.string().min(1),
    terminated_at: isoTimestamp,
  }),
);

/**
 * An operator ran a command on the instance (`powernode instances exec`). What ran and how it ended is a fact
 * of record; its output is not: it can hold secrets and can be large, so it only goes back to the caller.
 */
export const instanceCommandExecutedSchema = lazySchema(() =>
  z.object({
    instance_id: id,
    argv: z.array(z.string().max(4096)).min(1).max(64),
    /** The command's exit code; 124 when it was killed at its timeout, 128 + n when a signal n ended it. */
    exit_code: z.number().int().min(0).max(255),
    timed_out: z.boolean(),
    /** Some of its output went beyond the cap and was not returned. */
    truncated: z.boolean(),
    duration_ms: z.number().int().min(0),
    requested_by: z.string().min(1),
    executed_at: isoTimestamp,
  }),
);

/** Every provisioner event type with its data schema. */
export const provisionerEventSchemas = {
  NodeHostnameClaimed: nodeHostnameClaimedSchema,
  NodeHostnameReleased: nodeHostnameReleasedSchema,
  NodeCreated: nodeCreatedSchema,
  NodeChannelChanged: nodeChannelChangedSchema,
  InstanceProvisionRequested: instanceProvisionRequestedSchema,
  InstanceStatusChanged: instanceStatusChangedSchema,
  InstanceEnrolled: instanceEnrolledSchema,
  InstanceHeartbeatReceived: instanceHeartbeatReceivedSchema,
  InstanceHeartbeatStale: instanceHeartbeatStaleSchema,
  InstanceTerminated: instanceTerminatedSchema,
  InstanceCommandExecuted: instanceCommandExecutedSchema,
} as const;

export type ProvisionerEventType = keyof typeof provisionerEventSchemas;
export type ProvisionerEventData<T extends ProvisionerEventType> = z.infer<(typeof provisionerEventSchemas)[T]>;
/** A provisioner event as deciders emit it and projections fold it: a tagged union on `type`. */
export type ProvisionerEvent = { [T in ProvisionerEventType]: { type: T; data: ProvisionerEventData<T> } }[ProvisionerEventType];
/** The member of the provisioner event union with the given type. */
export type ProvisionerEventOf<T extends ProvisionerEventType> = Extract<ProvisionerEvent, { type: T }>;

/** One event type for the event catalogue: structurally an `EventDefinition` of libs/events. */
export interface ProvisionerEventDefinition<T extends ProvisionerEventType = ProvisionerEventType> {
  type: T;
  schema_version: number;
  schema: (typeof provisionerEventSchemas)[T];
}

/** The provisioner's event types, ready to register in the event store's catalogue. */
export const provisionerEventDefinitions: readonly ProvisionerEventDefinition[] = (Object.keys(provisionerEventSchemas) as ProvisionerEventType[]).map(
  (type) => ({ type, schema_version: 1, schema: provisionerEventSchemas[type] }),
);

/** True when `type` names a provisioner event (projections over the global log skip everything else). */
export function isProvisionerEventType(type: string): type is ProvisionerEventType {
  return Object.prototype.hasOwnProperty.call(provisionerEventSchemas, type);
}

/** Stream names of the provisioner's aggregates. */
export const provisionerStreams = {
  nodeRegistry: (): string => 'node-registry',
  node: (nodeId: string): string => `node-${nodeId}`,
  instance: (instanceId: string): string => `instance-${instanceId}`,
} as const;
