import { z } from 'zod';
import { hostnameSchema } from '../events/provisioner-events.js';
import { pageInputShape } from './pagination.js';
import { agentHeartbeat } from './agent-api.js';

/** Inputs of the provisioner's operations (MCP tools and REST routes), shared by gateway and service. */
export const createNodeInput = z.object({
  hostname: hostnameSchema,
  node_template_id: z.string().min(1).max(200),
  channel: z.enum(['live', 'blessed', 'staging']).optional(),
});

export const nodeIdInput = z.object({ node_id: z.string().min(1).max(200) });
export const setNodeChannelInput = z.object({ node_id: z.string().min(1).max(200), channel: z.enum(['live', 'blessed', 'staging']) });
export const listNodesInput = z.object({ ...pageInputShape });
export const provisionInstanceInput = z.object({ node_id: z.string().min(1).max(200) });
export const instanceIdInput = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && (v as Record<string, unknown>)['id'] === undefined && (v as Record<string, unknown>)['instance_id'] !== undefined ? { ...(v as object), id: (v as Record<string, unknown>)['instance_id'] } : v),
  z.object({ id: z.string().min(1).max(200) }),
);
export const driftReportInput = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && (v as Record<string, unknown>)['instance_id'] === undefined && (v as Record<string, unknown>)['id'] !== undefined ? { ...(v as object), instance_id: (v as Record<string, unknown>)['id'] } : v),
  z.object({ instance_id: z.string().min(1).max(200) }),
);
export const listInstancesInput = z.object({ ...pageInputShape, node_id: z.string().optional() });

/*
 * Payloads of the agent patterns of PROVISIONER_RPC (`provisioner.agent.*`). The gateway forwards the bearer
 * credential of /api/v1/agent/* unchanged (it never checks it itself); the provisioner authenticates it.
 * `provisioner.agent.enrol` takes `agentEnrolInput` as is.
 */
export const agentCredentialRequest = z.object({ credential: z.string().min(1).max(500) });
export const agentHeartbeatRequest = z.object({ credential: z.string().min(1).max(500), heartbeat: agentHeartbeat });
