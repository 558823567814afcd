import { z } from 'zod';
import { hostnameSchema } from '../events/provisioner-events.js';
import { pageInputShape } from './pagination.js';
import { agentHeartbeat } from './agent-api.js';
import { lazySchema } from '../lazy-schema.js';

/** Inputs of the provisioner's operations (MCP tools and REST routes), shared by gateway and service. */
/** A VM instance's resources (qemu driver); a field left out takes the provisioner's default. */
export const nodeResourcesSchema = lazySchema(() =>
  z.object({
    memory_mb: z
      .number()
      .int()
      .min(128)
      .max(1024 * 1024)
      .optional(),
    vcpus: z.number().int().min(1).max(256).optional(),
  }),
);
export type NodeResources = z.infer<typeof nodeResourcesSchema>;

export const createNodeInput = lazySchema(() =>
  z.object({
    hostname: hostnameSchema,
    node_template_id: z.string().min(1).max(200),
    channel: z.enum(['live', 'blessed', 'staging']).optional(),
    /** Memory and vCPUs of the node's instances where they are VMs. */
    resources: nodeResourcesSchema.optional(),
  }),
);

export const nodeIdInput = lazySchema(() => z.object({ node_id: z.string().min(1).max(200) }));
export const setNodeChannelInput = lazySchema(() => z.object({ node_id: z.string().min(1).max(200), channel: z.enum(['live', 'blessed', 'staging']) }));
export const listNodesInput = lazySchema(() => z.object({ ...pageInputShape }));
export const provisionInstanceInput = lazySchema(() => z.object({ node_id: z.string().min(1).max(200) }));
/** Accepts `instance_id` for `id` (the reference platform's name for it). */
function withInstanceIdAlias(v: unknown): unknown {
  return v &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    (v as Record<string, unknown>)['id'] === undefined &&
    (v as Record<string, unknown>)['instance_id'] !== undefined
    ? { ...(v as object), id: (v as Record<string, unknown>)['instance_id'] }
    : v;
}
export const instanceIdInput = lazySchema(() => z.preprocess(withInstanceIdAlias, z.object({ id: z.string().min(1).max(200) })));
export const driftReportInput = lazySchema(() =>
  z.preprocess(
    (v) =>
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      (v as Record<string, unknown>)['instance_id'] === undefined &&
      (v as Record<string, unknown>)['id'] !== undefined
        ? { ...(v as object), instance_id: (v as Record<string, unknown>)['id'] }
        : v,
    z.object({ instance_id: z.string().min(1).max(200) }),
  ),
);
export const listInstancesInput = lazySchema(() => z.object({ ...pageInputShape, node_id: z.string().optional() }));

/*
 * Payloads of the agent patterns of PROVISIONER_RPC (`provisioner.agent.*`). The gateway forwards the bearer
 * credential of /api/v1/agent/* unchanged (it never checks it itself); the provisioner authenticates it.
 * `provisioner.agent.enrol` takes `agentEnrolInput` as is.
 */
export const agentCredentialRequest = lazySchema(() => z.object({ credential: z.string().min(1).max(500) }));
export const agentHeartbeatRequest = lazySchema(() => z.object({ credential: z.string().min(1).max(500), heartbeat: agentHeartbeat }));

/** Bounds of `system_exec_instance`: what one command may ask for and how much output comes back. */
export const INSTANCE_EXEC_LIMITS = {
  max_args: 64,
  max_arg_chars: 4096,
  min_timeout_ms: 1_000,
  max_timeout_ms: 600_000,
  default_timeout_ms: 60_000,
  /** Per stream (stdout, stderr); what goes beyond is dropped and the result says `truncated`. */
  max_output_bytes: 1024 * 1024,
} as const;

const execArgument = z
  .string()
  .max(INSTANCE_EXEC_LIMITS.max_arg_chars, `must be at most ${INSTANCE_EXEC_LIMITS.max_arg_chars} characters`)
  .refine((arg) => !arg.includes('\u0000'), 'must not contain a NUL character (arguments are C strings)');

/** `system_exec_instance`: argv is executed as argv on the instance, never handed to a shell. */
/** `powernode instances console`: the VM's serial console from byte `from`, or its last `tail_bytes` (default 64 KiB). */
export const instanceConsoleInput = lazySchema(() =>
  z.preprocess(
    withInstanceIdAlias,
    z.object({
      id: z.string().min(1).max(200),
      from: z.coerce.number().int().min(0).optional(),
      tail_bytes: z.coerce
        .number()
        .int()
        .min(0)
        .max(1024 * 1024)
        .optional(),
    }),
  ),
);
export type InstanceConsoleInput = z.infer<typeof instanceConsoleInput>;

export const execInstanceInput = lazySchema(() =>
  z.preprocess(
    withInstanceIdAlias,
    z.object({
      id: z.string().min(1).max(200),
      argv: z
        .array(execArgument)
        .min(1, 'must name at least the program')
        .max(INSTANCE_EXEC_LIMITS.max_args, `must have at most ${INSTANCE_EXEC_LIMITS.max_args} entries`)
        .refine((argv) => argv[0] !== '', 'argv[0] must name the program'),
      timeout_ms: z.coerce
        .number()
        .int()
        .min(INSTANCE_EXEC_LIMITS.min_timeout_ms, `must be at least ${INSTANCE_EXEC_LIMITS.min_timeout_ms} ms`)
        .max(INSTANCE_EXEC_LIMITS.max_timeout_ms, `must be at most ${INSTANCE_EXEC_LIMITS.max_timeout_ms} ms (10 minutes)`)
        .default(INSTANCE_EXEC_LIMITS.default_timeout_ms),
    }),
  ),
);
export type ExecInstanceInput = z.output<typeof execInstanceInput>;

/** How a command ended, whatever became of its output. */
export interface InstanceExecEnd {
  exit_code: number;
  /** The command ran out of time and was killed (exit_code 124). */
  timed_out: boolean;
  duration_ms: number;
}

/** What `system_exec_instance` answers: the command's own exit code and output, as it came. */
export interface InstanceExecResult extends InstanceExecEnd {
  stdout: string;
  stderr: string;
  /** Output beyond the cap was dropped. */
  truncated: boolean;
}

/** The two output streams of a command. */
export type InstanceExecStream = 'stdout' | 'stderr';

/**
 * Part kinds of the provisioner's streamed exec answer on the bus: `started` (empty) once the command runs,
 * so everything before it is a refusal; then the output chunks, named after their stream.
 */
export type InstanceExecPart = 'started' | InstanceExecStream;

/** Media type of a streamed `POST /instances/{id}/exec` answer: one JSON object per line. */
export const INSTANCE_EXEC_STREAM_MEDIA_TYPE = 'application/x-ndjson';

/**
 * One line of a streamed exec answer: output as it arrives (UTF-8 decoded, a character never split across
 * lines), then exactly one last line, the end or an error that cut the stream short.
 */
export type InstanceExecStreamLine =
  { stream: InstanceExecStream; data: string } | InstanceExecEnd | { error: { code: string; message: string; details?: Record<string, unknown> } };
