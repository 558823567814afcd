import { createHash } from 'node:crypto';
import {
  moduleVersionIdFor,
  templateIdFor,
  type CatalogEvent,
  type CatalogEventOf,
  type InstanceStatus,
  type NodeChannel,
  type PromotionState,
  type ProvisionerEventOf,
} from '@powernode/contracts';
import type { HeartbeatReport, InstanceEvent } from './instance.decider.js';

export const T0 = '2026-05-01T10:00:00.000Z';
export const T1 = '2026-05-01T10:00:30.000Z';
export const T2 = '2026-05-01T10:01:00.000Z';
export const T3 = '2026-05-01T10:05:00.000Z';
export const LATER = '2026-05-01T11:00:00.000Z';
export const NEXT_DAY = '2026-05-02T10:00:00.000Z';

export const NODE_ID = '0196a000-0000-7000-8000-0000000000a1';
export const INSTANCE_ID = '0196a000-0000-7000-8000-0000000000b1';
export const BASE_TEMPLATE_ID = templateIdFor('base');

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
/** A well-formed `sha256:<hex>` digest that differs per label. */
export const digestOf = (label: string): string => `sha256:${sha256(label)}`;

export const ENROLMENT_TOKEN = 'enrol-token-0123456789abcdef';
export const ENROLMENT_TOKEN_SHA256 = sha256(ENROLMENT_TOKEN);

// ---- catalog events --------------------------------------------------------------------------------------

export const moduleIdOf = (name: string, generation = 1): string => `module-${name}-${generation}`;

export function moduleRegistered(
  name: string,
  options: { requires?: string[]; priority?: number; category?: CatalogEventOf<'ModuleRegistered'>['data']['category']; generation?: number } = {},
): CatalogEvent {
  return {
    type: 'ModuleRegistered',
    data: {
      module_id: moduleIdOf(name, options.generation ?? 1),
      name,
      display_name: name,
      description: '',
      category: options.category ?? 'userland',
      variety: 'subscription',
      gitea_repo_full_name: `acme/${name}`,
      cosign_identity_regexp: '.*',
      cosign_issuer_regexp: '.*',
      approval_policy: 'require_approval',
      spec: {
        mask: [],
        file_spec: [],
        package_spec: [],
        dependency_spec: [],
        protected_spec: [],
        requires: options.requires ?? [],
        provides: [],
        priority: options.priority ?? 0,
      },
      spec_seeded: false,
      manifest_yaml: null,
      webhook_secret: { algorithm: 'aes-256-gcm', key_id: 'k1', ciphertext: 'c2VhbGVk' },
      registered_at: T0,
    },
  };
}

export const versionIdOf = (name: string, version: string, generation = 1): string => moduleVersionIdFor(moduleIdOf(name, generation), version);

export function versionBuilt(name: string, version: string, options: { verified?: boolean; requires?: string[]; generation?: number } = {}): CatalogEvent {
  const generation = options.generation ?? 1;
  return {
    type: 'ModuleVersionBuilt',
    data: {
      version_id: versionIdOf(name, version, generation),
      module_id: moduleIdOf(name, generation),
      module_name: name,
      version_string: version,
      tag: `v${version}`,
      oci_ref: `127.0.0.1:5000/acme/${name}:v${version}`,
      oci_digest: digestOf(`oci ${name} ${version} ${generation}`),
      composefs_digest: digestOf(`composefs ${name} ${version} ${generation}`),
      fsverity_root_hash: digestOf(`root ${name} ${version} ${generation}`),
      cosign_verified: options.verified ?? true,
      signer_identity: options.verified === false ? null : 'https://gitea.example.com/acme/build.yaml@refs/tags/v1',
      signer_issuer: options.verified === false ? null : 'https://gitea.example.com',
      sbom_summary: null,
      manifest: { schema_version: 1, name, dependencies: { requires: options.requires ?? [], provides: [] } },
      built_at: T0,
    },
  };
}

/** The composefs digest `versionBuilt` gives a version. */
export const composefsOf = (name: string, version: string, generation = 1): string => digestOf(`composefs ${name} ${version} ${generation}`);

/** Promotion events along the path built → … → `to` (retired goes straight from the current state). */
export function promotedTo(name: string, version: string, to: PromotionState, from: PromotionState = 'built', generation = 1): CatalogEvent[] {
  const order: PromotionState[] = ['built', 'staging', 'blessed', 'live'];
  const event = (f: PromotionState, t: PromotionState): CatalogEvent => ({
    type: 'ModuleVersionPromoted',
    data: {
      version_id: versionIdOf(name, version, generation),
      module_id: moduleIdOf(name, generation),
      module_name: name,
      version_string: version,
      from: f,
      to: t,
      promoted_by: 'operator',
      approval_id: null,
      promoted_at: T1,
    },
  });
  if (to === 'retired' || to === 'built') return [event(from, to)];
  const events: CatalogEvent[] = [];
  for (let i = order.indexOf(from); i < order.indexOf(to); i++) events.push(event(order[i]!, order[i + 1]!));
  return events;
}

export function templateCreated(name = 'base'): CatalogEvent {
  return { type: 'TemplateCreated', data: { template_id: templateIdFor(name), name, description: '', created_at: T0 } };
}

export function assigned(moduleName: string, templateName = 'base', generation = 1): CatalogEvent {
  return {
    type: 'ModuleAssignedToTemplate',
    data: {
      template_id: templateIdFor(templateName),
      template_name: templateName,
      module_id: moduleIdOf(moduleName, generation),
      module_name: moduleName,
      assigned_at: T1,
    },
  };
}

export function unassigned(moduleName: string, templateName = 'base', generation = 1): CatalogEvent {
  return {
    type: 'ModuleUnassignedFromTemplate',
    data: {
      template_id: templateIdFor(templateName),
      template_name: templateName,
      module_id: moduleIdOf(moduleName, generation),
      module_name: moduleName,
      unassigned_at: T2,
    },
  };
}

export function moduleDeleted(name: string, versionIds: string[] = [], generation = 1): CatalogEvent {
  return {
    type: 'ModuleDeleted',
    data: { module_id: moduleIdOf(name, generation), name, version_ids: versionIds, versions_deleted: versionIds.length, deleted_at: T2 },
  };
}

// ---- provisioner events ----------------------------------------------------------------------------------

export function nodeCreated(
  options: { node_id?: string; hostname?: string; template?: string; channel?: NodeChannel } = {},
): ProvisionerEventOf<'NodeCreated'> {
  return {
    type: 'NodeCreated',
    data: {
      node_id: options.node_id ?? NODE_ID,
      hostname: options.hostname ?? 'redis-test-1',
      node_template_id: templateIdFor(options.template ?? 'base'),
      channel: options.channel ?? 'live',
      created_by: 'operator',
      created_at: T0,
    },
  };
}

export function channelChanged(from: NodeChannel, to: NodeChannel, nodeId = NODE_ID): ProvisionerEventOf<'NodeChannelChanged'> {
  return { type: 'NodeChannelChanged', data: { node_id: nodeId, from, to, changed_by: 'operator', changed_at: T1 } };
}

export function provisionRequested(options: { instance_id?: string; node_id?: string; at?: string } = {}): ProvisionerEventOf<'InstanceProvisionRequested'> {
  return {
    type: 'InstanceProvisionRequested',
    data: {
      instance_id: options.instance_id ?? INSTANCE_ID,
      node_id: options.node_id ?? NODE_ID,
      hostname: 'redis-test-1',
      node_template_id: BASE_TEMPLATE_ID,
      driver: 'local',
      enrolment_token_sha256: ENROLMENT_TOKEN_SHA256,
      enrolment_expires_at: LATER,
      requested_by: 'operator',
      requested_at: options.at ?? T0,
    },
  };
}

export function statusChanged(
  from: InstanceStatus,
  to: InstanceStatus,
  at = T0,
  reason = 'test',
  instanceId = INSTANCE_ID,
): ProvisionerEventOf<'InstanceStatusChanged'> {
  return { type: 'InstanceStatusChanged', data: { instance_id: instanceId, from, to, reason, changed_at: at } };
}

/** Events that bring a fresh instance to `status` along the usual path. */
export function historyTo(status: InstanceStatus): InstanceEvent[] {
  const path: Record<InstanceStatus, InstanceEvent[]> = {
    pending: [],
    provisioning: [statusChanged('pending', 'provisioning')],
    starting: [statusChanged('pending', 'provisioning'), statusChanged('provisioning', 'starting')],
    running: [statusChanged('pending', 'provisioning'), statusChanged('provisioning', 'starting'), statusChanged('starting', 'running')],
    stopping: [
      statusChanged('pending', 'provisioning'),
      statusChanged('provisioning', 'starting'),
      statusChanged('starting', 'running'),
      statusChanged('running', 'stopping'),
    ],
    stopped: [
      statusChanged('pending', 'provisioning'),
      statusChanged('provisioning', 'starting'),
      statusChanged('starting', 'running'),
      statusChanged('running', 'stopped'),
    ],
    rebooting: [
      statusChanged('pending', 'provisioning'),
      statusChanged('provisioning', 'starting'),
      statusChanged('starting', 'running'),
      statusChanged('running', 'rebooting'),
    ],
    error: [statusChanged('pending', 'error')],
    terminated: [terminated('pending')],
  };
  return [provisionRequested(), ...path[status]];
}

export function terminated(from: InstanceStatus, at = T2, reason = 'terminated on request'): ProvisionerEventOf<'InstanceTerminated'> {
  return { type: 'InstanceTerminated', data: { instance_id: INSTANCE_ID, from, reason, terminated_by: 'operator', terminated_at: at } };
}

export function report(overrides: Partial<HeartbeatReport> = {}): HeartbeatReport {
  return {
    running_module_digests: { 'my-redis': composefsOf('my-redis', '0.1.0') },
    composed_root_hash: null,
    errors: [],
    agent_version: '0.1.0',
    boot_id: 'boot-1',
    ...overrides,
  };
}

export function heartbeatReceived(at: string, overrides: Partial<HeartbeatReport> = {}): ProvisionerEventOf<'InstanceHeartbeatReceived'> {
  return { type: 'InstanceHeartbeatReceived', data: { instance_id: INSTANCE_ID, ...report(overrides), at } };
}
