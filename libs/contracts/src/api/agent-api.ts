import { z } from 'zod';
import { lazySchema } from '../lazy-schema.js';

/*
 * The agent ↔ platform protocol. The agent speaks HTTP to the gateway (the only endpoint an instance needs to
 * reach besides the OCI registry); the gateway forwards to the provisioner over NATS (PROVISIONER_RPC).
 *
 *   POST /api/v1/agent/enrol      {instance_id, enrolment_token}            → {credential, heartbeat_interval_ms}
 *   GET  /api/v1/agent/desired    Authorization: Bearer <credential>         → AgentDesiredState
 *   POST /api/v1/agent/heartbeat  Authorization: Bearer <credential>, AgentHeartbeat → {ok:true, desired_generation}
 *
 * The enrolment token is one-time; the credential is bound to the instance and revoked at termination.
 */

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/);

export const agentEnrolInput = lazySchema(() =>
  z.object({
    instance_id: z.string().min(1).max(200),
    enrolment_token: z.string().min(16).max(500),
  }),
);
export type AgentEnrolInput = z.infer<typeof agentEnrolInput>;

export const agentEnrolResult = lazySchema(() =>
  z.object({
    credential: z.string().min(16),
    heartbeat_interval_ms: z.number().int().positive(),
  }),
);
export type AgentEnrolResult = z.infer<typeof agentEnrolResult>;

/** One module the instance must run, with everything the agent needs to pull, verify, compose and start it. */
export const agentDesiredModule = lazySchema(() =>
  z.object({
    module_name: z.string(),
    version_id: z.string(),
    version_string: z.string(),
    oci_ref: z.string(),
    oci_digest: digest,
    composefs_digest: digest,
    /** Layer priority (category position × 1000 + module priority); higher wins on overlapping paths. */
    priority: z.number().int(),
    /** rsync-style globs removed from this module's layer when composing (its mask + neighbours' protected paths…). */
    effective_mask: z.array(z.string()),
    init: z.object({ start: z.string().nullable(), stop: z.string().nullable(), restart: z.string().nullable() }),
  }),
);
export type AgentDesiredModule = z.infer<typeof agentDesiredModule>;

export const agentDesiredState = lazySchema(() =>
  z.object({
    instance_id: z.string(),
    /** Changes whenever the desired set changes; the agent reconciles when it differs from what it composed. */
    generation: z.string(),
    modules: z.array(agentDesiredModule),
    /** Why some assigned modules have no version to run (not promoted to the node's channel, unverified…). */
    unresolved: z.array(z.object({ module_name: z.string(), code: z.string(), message: z.string() })),
  }),
);
export type AgentDesiredState = z.infer<typeof agentDesiredState>;

/** One systemd unit of a composed module inside the machine, as the agent last read it. */
export const agentServiceStatus = lazySchema(() =>
  z.object({
    module: z.string(),
    /** The unit name, e.g. `redis-server.service`. */
    name: z.string(),
    state: z.enum(['active', 'activating', 'failed', 'inactive']),
    /** When the unit last changed state (ISO 8601), when systemd knows. */
    since: z.string().nullable(),
  }),
);
export type AgentServiceStatus = z.infer<typeof agentServiceStatus>;

export const agentHeartbeat = lazySchema(() =>
  z.object({
    /** module name → composefs_digest of the version actually composed and started. */
    running_module_digests: z.record(z.string(), digest),
    /** fs-verity digest of the composed root description, when one is composed. */
    composed_root_hash: digest.nullable(),
    /** The generation the agent last reconciled to. */
    generation: z.string().nullable(),
    /** Problems of the last reconcile, e.g. `fsverity verification failed: /etc/redis/redis.conf`. */
    errors: z.array(z.object({ module_name: z.string().nullable(), message: z.string() })).max(100),
    /** Per-module start outcome: `started`, `skipped: <reason>` (no isolation available), `failed: <reason>`. */
    module_states: z.record(z.string(), z.string()).default({}),
    /** The modules' systemd units on a machine instance (empty where the instance runs no init system). */
    services: z.array(agentServiceStatus).max(500).default([]),
    /** A machine instance's own address, which the host reaches it at (null where the instance has none). */
    address: z.ipv4().nullable().default(null),
    /**
     * Files of a machine instance's verified root that the kernel refused to read (their content does not match
     * the fs-verity digest the signed metadata names): `integrity_violation`, per path, with the module whose
     * layer ships it (null: the generation's own files).
     */
    integrity: z
      .array(z.object({ path: z.string().max(4096), module: z.string().nullable(), detected_at: z.string() }))
      .max(100)
      .default([]),
    agent_version: z.string(),
    boot_id: z.string(),
  }),
);
export type AgentHeartbeat = z.infer<typeof agentHeartbeat>;

export const agentHeartbeatResult = lazySchema(() => z.object({ ok: z.literal(true), desired_generation: z.string() }));
