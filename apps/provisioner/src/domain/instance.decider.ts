import { PowernodeError, type AgentReportedError, type InstanceStatus, type ProvisionerEventOf, type RunningModuleDigests } from '@powernode/contracts';
import { assertNever, type Decider } from '@powernode/events';
import { DEFAULT_HEARTBEAT_KEEPALIVE_MS, DEFAULT_MISSED_BEATS, epochMs, isHeartbeatStale, laterOf, staleThresholdMs } from './heartbeat-staleness.js';
import { recordCommandExecution, type CommandExecutionFacts } from './instance-exec.js';
import { existingInstance as existing, refuseTerminated } from './instance-refusals.js';
import { assertInstanceTransition, parseInstanceStatus, STATUSES_A_HEARTBEAT_MARKS_RUNNING } from './instance-status-machine.js';

/*
 * A NodeInstance: one running copy of a node (a sandbox with an agent, or a VM). Its status follows the
 * machine in instance-status-machine.ts; its agent enrols once with a one-time token and then reports what
 * it runs. Only the digests of the token and the credential are ever recorded.
 */

export type InstanceEvent =
  | ProvisionerEventOf<'InstanceProvisionRequested'>
  | ProvisionerEventOf<'InstanceStatusChanged'>
  | ProvisionerEventOf<'InstanceEnrolled'>
  | ProvisionerEventOf<'InstanceHeartbeatReceived'>
  | ProvisionerEventOf<'InstanceHeartbeatStale'>
  | ProvisionerEventOf<'InstanceTerminated'>
  | ProvisionerEventOf<'InstanceCommandExecuted'>;

/** What an agent reports, as the gateway hands it on (the receive time is the command's `now`). */
export interface HeartbeatReport {
  running_module_digests: RunningModuleDigests;
  composed_root_hash: string | null;
  errors: AgentReportedError[];
  agent_version: string | null;
  boot_id: string | null;
}

/** The node an instance is provisioned from, as the node aggregate knows it. */
export interface NodeFacts {
  hostname: string;
  node_template_id: string;
}

export type InstanceCommand =
  | {
      type: 'RequestProvision';
      instance_id: string;
      node_id: string;
      /** The node as its stream knows it, or null when there is no such node. */
      node: NodeFacts | null;
      driver: string;
      /** The provisioner host whose driver will run the instance. */
      provisioner_host?: string;
      /**
       * Drivers that boot a real machine need a base OS: a `system-base` module among the node's desired
       * modules (template or dependency closure). Absent for drivers that need none.
       */
      base_os?: { required: boolean; present: boolean; template_id: string };
      /** SHA-256 (hex) of the one-time enrolment token handed to the driver; the token itself is never stored. */
      enrolment_token_sha256: string;
      enrolment_expires_at: string;
      requested_by: string;
      now: string;
    }
  | { type: 'ChangeStatus'; instance_id: string; to: string; reason: string; now: string }
  | {
      type: 'EnrolAgent';
      instance_id: string;
      /** SHA-256 (hex) of the token the agent presented. */
      presented_token_sha256: string;
      credential_sha256: string;
      agent_version: string | null;
      now: string;
    }
  | {
      type: 'RecordHeartbeat';
      instance_id: string;
      report: HeartbeatReport;
      now: string;
      /** An unchanged report is recorded again once this long has passed (default 15 min). */
      keepalive_ms?: number;
    }
  | {
      type: 'CheckHeartbeat';
      instance_id: string;
      now: string;
      interval_ms: number;
      missed_beats?: number;
      /** The latest report time from the liveness table (newer than the last recorded event), if known. */
      last_heartbeat_at: string | null;
      /** When this provisioner started listening for heartbeats: silence before that is not the agent's fault. */
      watching_since: string;
    }
  | { type: 'TerminateInstance'; instance_id: string; reason?: string | undefined; terminated_by: string; now: string }
  | {
      type: 'RecordCommandExecution';
      instance_id: string;
      argv: readonly string[];
      outcome: CommandExecutionFacts;
      requested_by: string;
      now: string;
    };

export interface RecordedHeartbeat extends HeartbeatReport {
  at: string;
}

export interface InstanceRecord {
  instance_id: string;
  node_id: string;
  hostname: string;
  node_template_id: string;
  driver: string;
  /** The provisioner host that runs it; null on instances recorded before hosts were named (any host runs those). */
  provisioner_host: string | null;
  status: InstanceStatus;
  status_changed_at: string;
  enrolment_token_sha256: string;
  enrolment_expires_at: string;
  credential_sha256: string | null;
  last_recorded_heartbeat: RecordedHeartbeat | null;
  heartbeat_stale: boolean;
  created_at: string;
}

/** `none` before the instance is requested; otherwise the record, tagged by its status. */
export type InstanceState = { status: 'none' } | InstanceRecord;

const DEFAULT_TERMINATION_REASON = 'terminated on request';

export const instanceDecider: Decider<InstanceCommand, InstanceState, InstanceEvent> = {
  initialState: () => ({ status: 'none' }),

  decide(command, state) {
    switch (command.type) {
      case 'RequestProvision':
        return requestProvision(command, state);
      case 'ChangeStatus': {
        const instance = existing(state, command.instance_id);
        const to = parseInstanceStatus(command.to);
        if (to === 'terminated') {
          throw new PowernodeError('validation_failed', `instance ${command.instance_id}: terminate with TerminateInstance, which records who terminated it`, {
            details: { field: 'to', value: to, rule: 'terminate_via_terminate_command' },
          });
        }
        // A driver watcher or a redelivered message may report the status the instance already has.
        if (to === instance.status) return [];
        assertInstanceTransition(instance.instance_id, instance.status, to);
        return [statusChanged(instance, to, command.reason, command.now)];
      }
      case 'EnrolAgent':
        return enrolAgent(command, existing(state, command.instance_id));
      case 'RecordHeartbeat':
        return recordHeartbeat(command, existing(state, command.instance_id));
      case 'CheckHeartbeat':
        return checkHeartbeat(command, existing(state, command.instance_id));
      case 'TerminateInstance': {
        const instance = existing(state, command.instance_id);
        if (instance.status === 'terminated') return [];
        return [
          {
            type: 'InstanceTerminated',
            data: {
              instance_id: instance.instance_id,
              from: instance.status,
              reason: command.reason ?? DEFAULT_TERMINATION_REASON,
              terminated_by: command.terminated_by,
              terminated_at: command.now,
            },
          },
        ];
      }
      case 'RecordCommandExecution':
        return recordCommandExecution(command, state);
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'InstanceProvisionRequested': {
        const d = event.data;
        return {
          instance_id: d.instance_id,
          node_id: d.node_id,
          hostname: d.hostname,
          node_template_id: d.node_template_id,
          driver: d.driver,
          provisioner_host: d.provisioner_host ?? null,
          status: 'pending',
          status_changed_at: d.requested_at,
          enrolment_token_sha256: d.enrolment_token_sha256,
          enrolment_expires_at: d.enrolment_expires_at,
          credential_sha256: null,
          last_recorded_heartbeat: null,
          heartbeat_stale: false,
          created_at: d.requested_at,
        };
      }
      case 'InstanceStatusChanged':
        return state.status === 'none' ? state : { ...state, status: event.data.to, status_changed_at: event.data.changed_at };
      case 'InstanceEnrolled':
        return state.status === 'none' ? state : { ...state, credential_sha256: event.data.credential_sha256 };
      case 'InstanceHeartbeatReceived': {
        if (state.status === 'none') return state;
        const { instance_id: _id, ...heartbeat } = event.data;
        return { ...state, last_recorded_heartbeat: heartbeat, heartbeat_stale: false };
      }
      case 'InstanceHeartbeatStale':
        return state.status === 'none' ? state : { ...state, heartbeat_stale: true };
      case 'InstanceTerminated':
        return state.status === 'none' ? state : { ...state, status: 'terminated', status_changed_at: event.data.terminated_at };
      case 'InstanceCommandExecuted':
        return state;
      default:
        return assertNever(event);
    }
  },
};

function statusChanged(instance: InstanceRecord, to: InstanceStatus, reason: string, now: string): InstanceEvent {
  return { type: 'InstanceStatusChanged', data: { instance_id: instance.instance_id, from: instance.status, to, reason, changed_at: now } };
}

function requestProvision(command: Extract<InstanceCommand, { type: 'RequestProvision' }>, state: InstanceState): InstanceEvent[] {
  if (state.status !== 'none') {
    // A retried request (same node, same token) is the same request; anything else reuses an id.
    if (state.node_id === command.node_id && state.enrolment_token_sha256 === command.enrolment_token_sha256) return [];
    throw new PowernodeError('already_exists', `instance ${command.instance_id} already exists: provision with a new instance id`, {
      details: { instance_id: command.instance_id, rule: 'instance_id_unique' },
    });
  }
  if (command.node === null) {
    throw new PowernodeError('not_found', `node ${command.node_id} not found: create it with system_create_node, then provision an instance of it`, {
      details: { field: 'node_id', node_id: command.node_id, rule: 'node_must_exist' },
    });
  }
  if (command.base_os !== undefined && command.base_os.required && !command.base_os.present) {
    throw new PowernodeError(
      'base_missing',
      `template ${command.base_os.template_id} has no base OS: the ${command.driver} driver boots a real machine, which needs a system-base module (with a version promoted to the node's channel) in the template or its dependency closure; assign one, e.g. system-base, and provision again`,
      { details: { template_id: command.base_os.template_id, driver: command.driver, rule: 'base_os_required' } },
    );
  }
  if (!/^[0-9a-f]{64}$/.test(command.enrolment_token_sha256)) {
    throw new PowernodeError('validation_failed', 'enrolment_token_sha256 must be the SHA-256 of the enrolment token as 64 lowercase hex characters', {
      details: { field: 'enrolment_token_sha256', rule: 'sha256_hex' },
    });
  }
  if (epochMs(command.enrolment_expires_at, 'enrolment_expires_at') <= epochMs(command.now, 'now')) {
    throw new PowernodeError(
      'validation_failed',
      `enrolment_expires_at ${command.enrolment_expires_at} is not after now (${command.now}): give the agent time to enrol`,
      {
        details: { field: 'enrolment_expires_at', rule: 'enrolment_expiry_in_future' },
      },
    );
  }
  return [
    {
      type: 'InstanceProvisionRequested',
      data: {
        instance_id: command.instance_id,
        node_id: command.node_id,
        hostname: command.node.hostname,
        node_template_id: command.node.node_template_id,
        driver: command.driver,
        ...(command.provisioner_host === undefined ? {} : { provisioner_host: command.provisioner_host }),
        enrolment_token_sha256: command.enrolment_token_sha256,
        enrolment_expires_at: command.enrolment_expires_at,
        requested_by: command.requested_by,
        requested_at: command.now,
      },
    },
  ];
}

function enrolAgent(command: Extract<InstanceCommand, { type: 'EnrolAgent' }>, instance: InstanceRecord): InstanceEvent[] {
  if (instance.status === 'terminated') refuseTerminated(instance, 'enrolment');
  // The same answer for a wrong, a used and an expired token, so a caller without the token learns nothing;
  // `rule` in details is for the operator's log.
  const refuse = (rule: string): never => {
    throw new PowernodeError(
      'unauthenticated',
      `enrolment of instance ${instance.instance_id} refused: the enrolment token is not valid; provision a new instance`,
      {
        details: { instance_id: instance.instance_id, rule },
      },
    );
  };
  if (command.presented_token_sha256 !== instance.enrolment_token_sha256) return refuse('enrolment_token_invalid');
  // Checked before a retry is answered: an expired token obtains nothing, not even the credential again.
  if (epochMs(command.now, 'now') >= epochMs(instance.enrolment_expires_at, 'enrolment_expires_at')) return refuse('enrolment_token_expired');
  if (instance.credential_sha256 !== null) {
    // A retried enrolment that lost its reply presents the same credential: nothing to record.
    if (instance.credential_sha256 === command.credential_sha256) return [];
    return refuse('enrolment_token_used');
  }
  if (!/^[0-9a-f]{64}$/.test(command.credential_sha256)) {
    throw new PowernodeError('validation_failed', 'credential_sha256 must be 64 lowercase hex characters', {
      details: { field: 'credential_sha256', rule: 'sha256_hex' },
    });
  }
  return [
    {
      type: 'InstanceEnrolled',
      data: { instance_id: instance.instance_id, credential_sha256: command.credential_sha256, agent_version: command.agent_version, enrolled_at: command.now },
    },
  ];
}

function recordHeartbeat(command: Extract<InstanceCommand, { type: 'RecordHeartbeat' }>, instance: InstanceRecord): InstanceEvent[] {
  if (instance.status === 'terminated') refuseTerminated(instance, 'a heartbeat');
  const previous = instance.last_recorded_heartbeat;
  // Reports can overtake each other on the way in; an older one than what is recorded says nothing new.
  if (previous !== null && epochMs(command.now, 'now') < epochMs(previous.at, 'last heartbeat')) return [];

  const events: InstanceEvent[] = [];
  if (STATUSES_A_HEARTBEAT_MARKS_RUNNING.includes(instance.status)) {
    const reason = instance.status === 'rebooting' ? 'agent reported after the reboot' : 'first heartbeat from the agent';
    events.push(statusChanged(instance, 'running', reason, command.now));
  }
  const keepaliveMs = command.keepalive_ms ?? DEFAULT_HEARTBEAT_KEEPALIVE_MS;
  const worthRecording =
    events.length > 0 ||
    previous === null ||
    instance.heartbeat_stale ||
    !sameReport(previous, command.report) ||
    epochMs(command.now, 'now') - epochMs(previous.at, 'last heartbeat') >= keepaliveMs;
  if (worthRecording) {
    events.push({
      type: 'InstanceHeartbeatReceived',
      data: {
        instance_id: instance.instance_id,
        running_module_digests: { ...command.report.running_module_digests },
        composed_root_hash: command.report.composed_root_hash,
        errors: command.report.errors.map((e) => ({ ...e })),
        agent_version: command.report.agent_version,
        boot_id: command.report.boot_id,
        at: command.now,
      },
    });
  }
  return events;
}

function checkHeartbeat(command: Extract<InstanceCommand, { type: 'CheckHeartbeat' }>, instance: InstanceRecord): InstanceEvent[] {
  // Only a running instance owes heartbeats; booting, stopped and failed instances are watched by their status.
  if (instance.status !== 'running' || instance.heartbeat_stale) return [];
  const missedBeats = command.missed_beats ?? DEFAULT_MISSED_BEATS;
  const lastHeard = laterOf(instance.last_recorded_heartbeat?.at ?? null, command.last_heartbeat_at);
  const baseline = laterOf(laterOf(lastHeard, instance.status_changed_at), command.watching_since)!;
  if (!isHeartbeatStale(baseline, command.now, command.interval_ms, missedBeats)) return [];
  return [
    {
      type: 'InstanceHeartbeatStale',
      data: {
        instance_id: instance.instance_id,
        last_heartbeat_at: lastHeard,
        threshold_ms: staleThresholdMs(command.interval_ms, missedBeats),
        detected_at: command.now,
      },
    },
  ];
}

/** Same running set, root hash, errors, agent version and boot: nothing the platform reasons about changed. */
function sameReport(previous: RecordedHeartbeat, report: HeartbeatReport): boolean {
  return (
    sameDigests(previous.running_module_digests, report.running_module_digests) &&
    previous.composed_root_hash === report.composed_root_hash &&
    previous.agent_version === report.agent_version &&
    previous.boot_id === report.boot_id &&
    previous.errors.length === report.errors.length &&
    previous.errors.every((e, i) => {
      const other = report.errors[i]!;
      return e.module === other.module && e.code === other.code && e.message === other.message;
    })
  );
}

function sameDigests(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.prototype.hasOwnProperty.call(b, k) && a[k] === b[k]);
}
