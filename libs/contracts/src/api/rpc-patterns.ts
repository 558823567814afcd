import { z } from 'zod';
import { moduleVersionBuiltSchema, moduleVersionRejectedSchema, moduleVersionReverifiedSchema } from '../events/catalog-events.js';
import { rpcRequestSchema } from './actor.js';
import { agentEnrolInput } from './agent-api.js';
import {
  approvalIdInput,
  createModuleInput,
  createTemplateInput,
  deleteModuleInput,
  listApprovalsInput,
  listModulesInput,
  listModuleVersionsInput,
  listTemplatesInput,
  moduleNameInput,
  promoteVersionInput,
  rejectApprovalInput,
  templateIdInput,
  templateModuleInput,
  updateModuleInput,
  versionIdInput,
} from './catalog-api.js';
import {
  agentCredentialRequest,
  agentHeartbeatRequest,
  createNodeInput,
  driftReportInput,
  execInstanceInput,
  instanceConsoleInput,
  instanceIdInput,
  listInstancesInput,
  listNodesInput,
  nodeIdInput,
  provisionInstanceInput,
  setNodeChannelInput,
} from './provisioner-api.js';
import { publicRpc, rpc, rpcPatterns } from './rpc-declaration.js';
import { lazySchema } from '../lazy-schema.js';

/*
 * Every RPC between the services, declared once: its NATS pattern (the subject, under the bus namespace), the
 * payload its handler accepts, and for the ones the gateway forwards, the MCP tool and REST route it serves them
 * as. The gateway derives its forwarded operations from these, each service registers a handler per name, and
 * `CATALOG_RPC` and its siblings give the plain patterns to callers that need only the subject.
 */

/** What a service's replay pattern takes: one projection by name, or none for all of its read models. */
export const replayRequestSchema = lazySchema(() => z.object({ projection: z.string().min(1).max(200).optional() }));

/** A liveness probe answers anything. */
const pingRequest = z.unknown();

/** A CI build report as the gateway received it: the catalog checks the signature, the gateway holds no secret. */
export const webhookReceiveRequest = lazySchema(() =>
  z.object({
    repository_full_name: z.string().min(1).max(300),
    raw_body_base64: z.string().max(2_000_000),
    signature: z.string().max(200),
    delivery_id: z.string().min(1).max(200),
    // Transport bounds only: the build report decider judges tag and artifact once the signature is checked.
    tag: z.string().max(4096).nullable(),
    artifact_ref: z.string().max(4096).nullable(),
  }),
);

/** An outcome ingest verified, with the build report's event id as causation. */
const recordRequest = <S extends z.ZodType>(data: S) => z.object({ data, causation_id: z.string().nullable() });

/** The reference platform names a node's hostname `name`; both are accepted. */
export const createNodeWithAliases = lazySchema(() =>
  z.preprocess(
    (v) =>
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      (v as Record<string, unknown>)['hostname'] === undefined &&
      (v as Record<string, unknown>)['name'] !== undefined
        ? { ...(v as Record<string, unknown>), hostname: (v as Record<string, unknown>)['name'] }
        : v,
    createNodeInput,
  ),
);

/** Re-verification pulls the whole artifact again: give it longer than a query. */
const REVERIFY_TIMEOUT_MS = 120_000;
/** Driver work (create, start, destroy) happens inside provision and terminate: give them longer than a query. */
const LONG_RUNNING_MS = 30_000;
/** Time the provisioner gets beyond an exec's own timeout: reading the output, recording the event. */
export const EXEC_MARGIN_MS = 15_000;

/** The catalog's commands and queries. */
export const CATALOG_RPCS = {
  createModule: publicRpc('catalog.module.create', createModuleInput, {
    tool: 'system_create_module',
    title: 'Register a module',
    description:
      'Registers a NodeModule (name, category, variety, repository, cosign identity/issuer patterns, optional manifest_yaml to seed its spec). Returns the webhook secret once.',
    permission: 'change',
    rest: { method: 'POST', path: '/modules', status: 201 },
  }),
  getModule: rpc('catalog.module.get', rpcRequestSchema(moduleNameInput)),
  listModules: rpc('catalog.module.list', rpcRequestSchema(listModulesInput)),
  updateModule: publicRpc('catalog.module.update', updateModuleInput, {
    tool: 'system_update_module',
    title: 'Update a module',
    description:
      'Updates trust policy (cosign_identity_regexp, cosign_issuer_regexp), approval_policy and spec fields (mask, file_spec, package_spec, dependency_spec, protected_spec, requires, provides, priority). The platform record is authoritative after registration.',
    permission: 'change',
    rest: { method: 'PATCH', path: '/modules/{module_name}' },
  }),
  rotateWebhookSecret: publicRpc('catalog.module.rotate_webhook_secret', moduleNameInput, {
    tool: 'system_rotate_webhook_secret',
    title: 'Rotate the webhook secret',
    description: 'Replaces the module webhook secret; the new one is returned once.',
    permission: 'change',
    rest: { method: 'POST', path: '/modules/{module_name}/webhook-secret' },
  }),
  deleteModule: publicRpc('catalog.module.delete', deleteModuleInput, {
    tool: 'system_delete_module',
    title: 'Delete a module',
    description: 'Deletes a module and its versions; refused with module_assigned while any template uses it.',
    permission: 'admin',
    rest: { method: 'DELETE', path: '/modules/{module_name}', params: { module_name: 'name' } },
  }),
  listModuleVersions: rpc('catalog.version.list', rpcRequestSchema(listModuleVersionsInput)),
  getModuleVersion: rpc('catalog.version.get', rpcRequestSchema(versionIdInput)),
  promoteModuleVersion: publicRpc('catalog.version.promote', promoteVersionInput, {
    tool: 'system_promote_module_version',
    title: 'Promote a module version',
    description:
      'Moves a version along built → staging → blessed → live (or to retired). Promotion to live under require_approval returns a pending approval instead.',
    permission: 'change',
    rest: { method: 'POST', path: '/module-versions/{id}/promote' },
  }),
  recordBuild: rpc('catalog.version.record_build', recordRequest(moduleVersionBuiltSchema)),
  recordRejection: rpc('catalog.version.record_rejection', recordRequest(moduleVersionRejectedSchema)),
  recordReverification: rpc('catalog.version.record_reverification', recordRequest(moduleVersionReverifiedSchema)),
  approvePromotion: publicRpc('catalog.approval.approve', approvalIdInput, {
    tool: 'system_approve_promotion',
    title: 'Approve a promotion',
    description: 'Approves a pending promotion to live (approver role; not the requester) and applies it.',
    permission: 'approve',
    rest: { method: 'POST', path: '/approvals/{approval_id}/approve' },
  }),
  rejectPromotion: publicRpc('catalog.approval.reject', rejectApprovalInput, {
    tool: 'system_reject_promotion',
    title: 'Reject a promotion',
    description: 'Rejects a pending promotion to live.',
    permission: 'approve',
    rest: { method: 'POST', path: '/approvals/{approval_id}/reject' },
  }),
  listApprovals: rpc('catalog.approval.list', rpcRequestSchema(listApprovalsInput)),
  listTemplates: rpc('catalog.template.list', rpcRequestSchema(listTemplatesInput)),
  getTemplate: rpc('catalog.template.get', rpcRequestSchema(templateIdInput)),
  createTemplate: publicRpc('catalog.template.create', createTemplateInput, {
    tool: 'system_create_template',
    title: 'Create a template',
    description: 'Creates a NodeTemplate.',
    permission: 'change',
    rest: { method: 'POST', path: '/templates', status: 201 },
  }),
  assignModule: publicRpc('catalog.template.assign', templateModuleInput, {
    tool: 'system_assign_module_to_template',
    title: 'Assign a module to a template',
    description: 'Assigns a module (by name) to a template; refused when already assigned or when it brings a provides conflict or a dependency cycle.',
    permission: 'change',
    rest: { method: 'POST', path: '/templates/{template_id}/modules' },
  }),
  unassignModule: publicRpc('catalog.template.unassign', templateModuleInput, {
    tool: 'system_unassign_module_from_template',
    title: 'Unassign a module',
    description: 'Removes a module from a template; idempotent.',
    permission: 'change',
    rest: { method: 'DELETE', path: '/templates/{template_id}/modules/{module_name}' },
  }),
  composePreview: rpc('catalog.template.compose_preview', rpcRequestSchema(templateIdInput)),
  receiveWebhook: rpc('catalog.webhook.receive', webhookReceiveRequest),
  trustPolicy: rpc('catalog.module.trust_policy', z.object({ module_id: z.string().min(1) })),
  replay: rpc('catalog.projections.replay', replayRequestSchema),
  ping: rpc('catalog.ping', pingRequest),
};

/** RPCs the gateway answers (it serves reads from its own read models). */
export const GATEWAY_RPCS = {
  replay: rpc('gateway.projections.replay', replayRequestSchema),
};

/** The ingest service's commands. */
export const INGEST_RPCS = {
  /** Verify a recorded version's signature again under its module's current trust policy. */
  reverifyVersion: publicRpc('ingest.version.reverify', versionIdInput, {
    tool: 'system_reverify_module_version',
    title: 'Verify a version again',
    description:
      "Pulls the version's artifact again and re-checks its signature under the module's current trust policy (after editing cosign_identity_regexp / cosign_issuer_regexp). Returns the version with its new verdict.",
    permission: 'change',
    rest: { method: 'POST', path: '/module-versions/{id}/reverify' },
    timeout_ms: REVERIFY_TIMEOUT_MS,
  }),
  ping: rpc('ingest.ping', pingRequest),
};

/** The provisioner's commands, queries and agent calls. */
export const PROVISIONER_RPCS = {
  createNode: publicRpc('provisioner.node.create', createNodeWithAliases, {
    tool: 'system_create_node',
    title: 'Create a node',
    description:
      'Creates a node (unique hostname) bound to a NodeTemplate (id or name). channel is the lowest promotion state it runs: live (default), blessed or staging. resources {memory_mb, vcpus} size its instances where they are VMs (qemu driver); left out, the provisioner defaults.',
    permission: 'change',
    rest: { method: 'POST', path: '/nodes', status: 201 },
  }),
  getNode: publicRpc('provisioner.node.get', nodeIdInput, {
    tool: 'system_get_node',
    title: 'Get a node',
    description: 'One node with its channel and instance ids.',
    permission: 'read',
    rest: { method: 'GET', path: '/nodes/{node_id}' },
  }),
  listNodes: publicRpc('provisioner.node.list', listNodesInput, {
    tool: 'system_list_nodes',
    title: 'List nodes',
    description: 'Nodes by hostname, paginated (limit, cursor).',
    permission: 'read',
    rest: { method: 'GET', path: '/nodes' },
  }),
  setNodeChannel: publicRpc('provisioner.node.set_channel', setNodeChannelInput, {
    tool: 'system_set_node_channel',
    title: 'Set a node channel',
    description: "Changes the lowest promotion state the node runs (live, blessed, staging); its instances' desired state follows on their next heartbeat.",
    permission: 'change',
    rest: { method: 'PATCH', path: '/nodes/{node_id}' },
  }),
  provisionInstance: publicRpc('provisioner.instance.provision', provisionInstanceInput, {
    tool: 'system_provision_instance',
    title: 'Provision an instance',
    description:
      'Provisions a NodeInstance of a node on the answering provisioner host and returns it `pending`; that host brings it up through its hypervisor driver (provisioning → starting), and the first heartbeat of its agent makes it running.',
    permission: 'change',
    rest: { method: 'POST', path: '/nodes/{node_id}/instances', status: 201 },
    timeout_ms: LONG_RUNNING_MS,
  }),
  getInstance: publicRpc('provisioner.instance.get', instanceIdInput, {
    tool: 'system_get_instance',
    title: 'Get an instance',
    description:
      'One instance: status, running_module_digests (module → composefs digest of the running version), last_heartbeat_at, heartbeat_stale, errors its agent reported.',
    permission: 'read',
    rest: { method: 'GET', path: '/instances/{id}' },
  }),
  listInstances: publicRpc('provisioner.instance.list', listInstancesInput, {
    tool: 'system_list_instances',
    title: 'List instances',
    description: 'Instances that are not terminated, oldest first, paginated (limit, cursor); node_id filters.',
    permission: 'read',
    rest: { method: 'GET', path: '/instances' },
  }),
  terminateInstance: publicRpc('provisioner.instance.terminate', instanceIdInput, {
    tool: 'system_terminate_instance',
    title: 'Terminate an instance',
    description:
      'Terminates an instance from any status (idempotent): revokes its agent credential at once; its host then destroys its sandbox and private state.',
    permission: 'change',
    rest: { method: 'POST', path: '/instances/{id}/terminate' },
    timeout_ms: LONG_RUNNING_MS,
  }),
  stopInstance: publicRpc('provisioner.instance.stop', instanceIdInput, {
    tool: 'system_stop_instance',
    title: 'Stop an instance',
    description: 'Stops a running instance: returns it `stopping`, and its host stops the agent (→ stopped); its sandbox and credential stay. Idempotent.',
    permission: 'change',
    rest: { method: 'POST', path: '/instances/{id}/stop' },
    timeout_ms: LONG_RUNNING_MS,
  }),
  startInstance: publicRpc('provisioner.instance.start', instanceIdInput, {
    tool: 'system_start_instance',
    title: 'Start an instance',
    description: 'Starts a stopped or failed instance again (→ starting, then running on its next heartbeat). Idempotent for a running instance.',
    permission: 'change',
    rest: { method: 'POST', path: '/instances/{id}/start' },
    timeout_ms: LONG_RUNNING_MS,
  }),
  execInstance: publicRpc('provisioner.instance.exec', execInstanceInput, {
    tool: 'system_exec_instance',
    title: 'Run a command on an instance',
    description:
      'Runs argv (1–64 entries, never through a shell) inside a running instance, its root as /; killed after timeout_ms (1 s–10 min, default 60 s). Answers {exit_code, stdout, stderr, truncated, timed_out, duration_ms}; output beyond 1 MiB per stream is cut (truncated). Over REST, `Accept: application/x-ndjson` streams the output instead, as it comes and uncut. Recorded as InstanceCommandExecuted on the instance (argv, exit code, who; not the output). A terminated instance is refused (instance_terminated), a stopped one too (instance_not_running).',
    permission: 'change',
    rest: { method: 'POST', path: '/instances/{id}/exec' },
    timeout_ms: (input) => input.timeout_ms + EXEC_MARGIN_MS,
  }),
  /** Like execInstance, but the output goes to the subject in the request's Powernode-Stream-Subject header as it comes. */
  execInstanceStream: rpc('provisioner.instance.exec_stream', rpcRequestSchema(execInstanceInput)),
  instanceConsole: publicRpc('provisioner.instance.console', instanceConsoleInput, {
    tool: 'system_instance_console',
    title: "An instance's serial console",
    description:
      'The serial console of a VM instance (qemu driver), kept across its boots: from byte `from`, or its last `tail_bytes` (default 64 KiB, at most 1 MiB a read). Answers {instance_id, text, next_offset, size}; pass next_offset as `from` to follow. Instances of drivers without a console are refused (conflict).',
    permission: 'read',
    rest: { method: 'GET', path: '/instances/{id}/console' },
  }),
  driftReport: publicRpc('provisioner.instance.drift', driftReportInput, {
    tool: 'system_drift_report',
    title: 'Drift report',
    description:
      'What the instance should run against what its agent reports: {drift, missing, extra, mismatched:{module:{want,have}}}, plus what could not be desired and why.',
    permission: 'read',
    rest: { method: 'GET', path: '/instances/{instance_id}/drift' },
  }),
  agentEnrol: rpc('provisioner.agent.enrol', agentEnrolInput),
  agentDesired: rpc('provisioner.agent.desired', agentCredentialRequest),
  agentHeartbeat: rpc('provisioner.agent.heartbeat', agentHeartbeatRequest),
  replay: rpc('provisioner.projections.replay', replayRequestSchema),
  ping: rpc('provisioner.ping', pingRequest),
};

/** NATS request/reply subjects of the catalog's commands and queries. */
export const CATALOG_RPC = rpcPatterns(CATALOG_RPCS);
/** NATS request/reply subjects the gateway answers. */
export const GATEWAY_RPC = rpcPatterns(GATEWAY_RPCS);
/** NATS request/reply subjects of the ingest service. */
export const INGEST_RPC = rpcPatterns(INGEST_RPCS);
/** NATS request/reply subjects of the provisioner. */
export const PROVISIONER_RPC = rpcPatterns(PROVISIONER_RPCS);
