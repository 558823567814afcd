import { PowernodeError, type AgentReportedError, type AgentServiceStatus, type InstanceStatus, type RunningModuleDigests } from '@powernode/contracts';
import { compareText, entryOf, setEntry } from '@powernode/events';
import { epochMs, laterOf } from './heartbeat-staleness.js';
import { provisionerProjection } from './provisioner-projection.js';

/** An instance as `system_get_instance` returns it. */
export interface InstanceView {
  id: string;
  node_id: string;
  hostname: string;
  node_template_id: string;
  driver: string;
  /** The provisioner host whose driver runs it; null on instances recorded before hosts were named. */
  provisioner_host: string | null;
  status: InstanceStatus;
  /** Why the instance entered its current status. */
  status_reason: string | null;
  /** module name → composefs digest of the running version, as the agent last reported. */
  running_module_digests: RunningModuleDigests;
  composed_root_hash: string | null;
  last_heartbeat_at: string | null;
  heartbeat_stale: boolean;
  /** When the stale mark was set (null when not stale). */
  heartbeat_stale_since: string | null;
  errors: AgentReportedError[];
  agent_version: string | null;
  boot_id: string | null;
  enrolled: boolean;
  enrolled_at: string | null;
  created_at: string;
  updated_at: string;
  terminated_at: string | null;
  /**
   * The modules' systemd units as the agent last read them (machine instances). Not recorded as events: the
   * agent reports them with every heartbeat and the view takes them from the liveness table.
   */
  services?: AgentServiceStatus[];
  /** A machine instance's own address, which the host reaches it at; from the liveness table like `services`. */
  address?: string | null;
  /** Files of a machine instance's verified root that the kernel refused (integrity_violation); from the liveness table. */
  integrity?: Array<{ path: string; module: string | null; detected_at: string }>;
}

export interface InstancesReadModel {
  instances: Record<string, InstanceView>;
}

/** Stores the changed view in place of the instance's view (a view is never changed once stored: a caller may hold it). */
function withInstance(state: InstancesReadModel, id: string, change: (i: InstanceView) => InstanceView): InstancesReadModel {
  const current = entryOf(state.instances, id);
  if (current !== undefined) setEntry(state.instances, id, change(current));
  return state;
}

/** Instances with their status, enrolment and last recorded heartbeat. Updates its state in place. */
export const instancesProjection = provisionerProjection<InstancesReadModel>({
  name: 'provisioner-instances',
  version: 3,
  initialState: () => ({ instances: {} }),
  handlers: {
    InstanceProvisionRequested(state, event) {
      const d = event.data;
      if (entryOf(state.instances, d.instance_id) !== undefined) return state;
      const view: InstanceView = {
        id: d.instance_id,
        node_id: d.node_id,
        hostname: d.hostname,
        node_template_id: d.node_template_id,
        driver: d.driver,
        provisioner_host: d.provisioner_host ?? null,
        status: 'pending',
        status_reason: 'provisioning requested',
        running_module_digests: {},
        composed_root_hash: null,
        last_heartbeat_at: null,
        heartbeat_stale: false,
        heartbeat_stale_since: null,
        errors: [],
        agent_version: null,
        boot_id: null,
        enrolled: false,
        enrolled_at: null,
        created_at: d.requested_at,
        updated_at: d.requested_at,
        terminated_at: null,
      };
      setEntry(state.instances, d.instance_id, view);
      return state;
    },
    InstanceStatusChanged: (state, event) =>
      withInstance(state, event.data.instance_id, (i) => ({
        ...i,
        status: event.data.to,
        status_reason: event.data.reason,
        updated_at: event.data.changed_at,
      })),
    InstanceEnrolled: (state, event) =>
      withInstance(state, event.data.instance_id, (i) => ({
        ...i,
        enrolled: true,
        enrolled_at: event.data.enrolled_at,
        agent_version: event.data.agent_version ?? i.agent_version,
        updated_at: event.data.enrolled_at,
      })),
    InstanceHeartbeatReceived(state, event) {
      const d = event.data;
      return withInstance(state, d.instance_id, (i) => ({
        ...i,
        running_module_digests: { ...d.running_module_digests },
        composed_root_hash: d.composed_root_hash,
        errors: d.errors.map((e) => ({ ...e })),
        agent_version: d.agent_version ?? i.agent_version,
        boot_id: d.boot_id,
        last_heartbeat_at: d.at,
        heartbeat_stale: false,
        heartbeat_stale_since: null,
        updated_at: d.at,
      }));
    },
    InstanceHeartbeatStale: (state, event) =>
      withInstance(state, event.data.instance_id, (i) => ({
        ...i,
        heartbeat_stale: true,
        heartbeat_stale_since: event.data.detected_at,
        updated_at: event.data.detected_at,
      })),
    InstanceTerminated: (state, event) =>
      withInstance(state, event.data.instance_id, (i) => ({
        ...i,
        status: 'terminated',
        status_reason: event.data.reason,
        // Nothing runs on a terminated instance, whatever its last heartbeat said.
        running_module_digests: {},
        terminated_at: event.data.terminated_at,
        updated_at: event.data.terminated_at,
      })),
  },
});

/** The latest heartbeat time the liveness table holds for an instance (reports not recorded as events). */
export interface InstanceLiveness {
  last_heartbeat_at: string | null;
}

/**
 * One instance, with the liveness table's newer heartbeat time merged in (a report newer than the stale mark
 * also clears the mark). Refuses an unknown id with `not_found`. The view is a snapshot: later events store a
 * new one.
 */
export function instanceView(state: InstancesReadModel, id: string, liveness: InstanceLiveness | null = null): InstanceView {
  const view = entryOf(state.instances, id);
  if (view === undefined) {
    throw new PowernodeError('not_found', `instance ${id} not found: list instances, or provision one with system_provision_instance`, {
      details: { instance_id: id, rule: 'instance_must_exist' },
    });
  }
  if (liveness === null) return view;
  const last = laterOf(view.last_heartbeat_at, liveness.last_heartbeat_at);
  const recovered =
    view.heartbeat_stale &&
    last !== null &&
    view.heartbeat_stale_since !== null &&
    epochMs(last, 'last_heartbeat_at') > epochMs(view.heartbeat_stale_since, 'heartbeat_stale_since');
  return recovered ? { ...view, last_heartbeat_at: last, heartbeat_stale: false, heartbeat_stale_since: null } : { ...view, last_heartbeat_at: last };
}

export interface InstanceFilter {
  node_id?: string;
  status?: InstanceStatus;
  /** Terminated instances are left out unless asked for. */
  include_terminated?: boolean;
}

/** Instances matching `filter`, oldest first (ties by id). */
export function listInstances(state: InstancesReadModel, filter: InstanceFilter = {}): InstanceView[] {
  return Object.values(state.instances)
    .filter((i) => filter.node_id === undefined || i.node_id === filter.node_id)
    .filter((i) => filter.status === undefined || i.status === filter.status)
    .filter((i) => filter.include_terminated === true || filter.status === 'terminated' || i.status !== 'terminated')
    .sort((a, b) => compareText(a.created_at, b.created_at) || compareText(a.id, b.id));
}
