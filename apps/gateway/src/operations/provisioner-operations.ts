import { z } from 'zod';
import {
  createNodeInput,
  driftReportInput,
  execInstanceInput,
  type ExecInstanceInput,
  instanceIdInput,
  listInstancesInput,
  listNodesInput,
  nodeIdInput,
  PROVISIONER_RPC,
  provisionInstanceInput,
  setNodeChannelInput,
} from '@powernode/contracts';
import type { RpcClient } from '@powernode/events';
import { forwarded } from './forwarded-operation.js';
import { EXEC_MARGIN_MS, instanceExecStream } from './instance-exec-stream.js';
import type { Operation } from './operation.js';

/** The reference platform names a node's hostname `name`; both are accepted. */
const createNodeWithAliases = z.preprocess(
  (v) =>
    v && typeof v === 'object' && !Array.isArray(v) && (v as Record<string, unknown>)['hostname'] === undefined && (v as Record<string, unknown>)['name'] !== undefined
      ? { ...(v as Record<string, unknown>), hostname: (v as Record<string, unknown>)['name'] }
      : v,
  createNodeInput,
);

/** Driver work (create, start, destroy) happens inside provision and terminate: give them longer than a query. */
const LONG_RUNNING_MS = 30_000;


/** The provisioner's public operations (CONTRACT §2): nodes, instances, drift; each an MCP tool and a REST route. */
export function provisionerOperations(rpc: RpcClient): Operation[] {
  return [
    forwarded(rpc, 'system_create_node', PROVISIONER_RPC.createNode, createNodeWithAliases, 'change', { method: 'POST', path: '/nodes', status: 201 }, 'Create a node',
      'Creates a node (unique hostname) bound to a NodeTemplate (id or name). channel is the lowest promotion state it runs: live (default), blessed or staging.'),
    forwarded(rpc, 'system_list_nodes', PROVISIONER_RPC.listNodes, listNodesInput, 'read', { method: 'GET', path: '/nodes' }, 'List nodes', 'Nodes by hostname, paginated (limit, cursor).'),
    forwarded(rpc, 'system_get_node', PROVISIONER_RPC.getNode, nodeIdInput, 'read', { method: 'GET', path: '/nodes/{node_id}' }, 'Get a node', 'One node with its channel and instance ids.'),
    forwarded(rpc, 'system_set_node_channel', PROVISIONER_RPC.setNodeChannel, setNodeChannelInput, 'change', { method: 'PATCH', path: '/nodes/{node_id}' }, 'Set a node channel',
      "Changes the lowest promotion state the node runs (live, blessed, staging); its instances' desired state follows on their next heartbeat."),
    forwarded(rpc, 'system_provision_instance', PROVISIONER_RPC.provisionInstance, provisionInstanceInput, 'change', { method: 'POST', path: '/nodes/{node_id}/instances', status: 201 }, 'Provision an instance',
      'Provisions a NodeInstance of a node through the hypervisor driver: pending → provisioning → starting, then running on the first heartbeat of its agent.', LONG_RUNNING_MS),
    forwarded(rpc, 'system_list_instances', PROVISIONER_RPC.listInstances, listInstancesInput, 'read', { method: 'GET', path: '/instances' }, 'List instances',
      'Instances that are not terminated, oldest first, paginated (limit, cursor); node_id filters.'),
    forwarded(rpc, 'system_get_instance', PROVISIONER_RPC.getInstance, instanceIdInput, 'read', { method: 'GET', path: '/instances/{id}' }, 'Get an instance',
      'One instance: status, running_module_digests (module → composefs digest of the running version), last_heartbeat_at, heartbeat_stale, errors its agent reported.'),
    forwarded(rpc, 'system_drift_report', PROVISIONER_RPC.driftReport, driftReportInput, 'read', { method: 'GET', path: '/instances/{instance_id}/drift' }, 'Drift report',
      'What the instance should run against what its agent reports: {drift, missing, extra, mismatched:{module:{want,have}}}, plus what could not be desired and why.'),
    forwarded(rpc, 'system_terminate_instance', PROVISIONER_RPC.terminateInstance, instanceIdInput, 'change', { method: 'POST', path: '/instances/{id}/terminate' }, 'Terminate an instance',
      'Terminates an instance from any status (idempotent): revokes its agent credential, destroys its sandbox and private state.', LONG_RUNNING_MS),
    forwarded(rpc, 'system_stop_instance', PROVISIONER_RPC.stopInstance, instanceIdInput, 'change', { method: 'POST', path: '/instances/{id}/stop' }, 'Stop an instance',
      'Stops the agent of a running instance (running → stopping → stopped); its sandbox and credential stay. Idempotent.', LONG_RUNNING_MS),
    forwarded(rpc, 'system_start_instance', PROVISIONER_RPC.startInstance, instanceIdInput, 'change', { method: 'POST', path: '/instances/{id}/start' }, 'Start an instance',
      'Starts a stopped or failed instance again (→ starting, then running on its next heartbeat). Idempotent for a running instance.', LONG_RUNNING_MS),
    {
      ...forwarded(rpc, 'system_exec_instance', PROVISIONER_RPC.execInstance, execInstanceInput, 'change', { method: 'POST', path: '/instances/{id}/exec' }, 'Run a command on an instance',
        'Runs argv (1–64 entries, never through a shell) inside a running instance, its root as /; killed after timeout_ms (1 s–10 min, default 60 s). Answers {exit_code, stdout, stderr, truncated, timed_out, duration_ms}; output beyond 1 MiB per stream is cut (truncated). Over REST, `Accept: application/x-ndjson` streams the output instead, as it comes and uncut. Recorded as InstanceCommandExecuted on the instance (argv, exit code, who; not the output). A terminated instance is refused (instance_terminated), a stopped one too (instance_not_running).',
        (input: ExecInstanceInput) => input.timeout_ms + EXEC_MARGIN_MS),
      stream: instanceExecStream(rpc),
    },
  ];
}
