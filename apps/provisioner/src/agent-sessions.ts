import {
  catalogNameSchema,
  contentDerivedId,
  isPowernodeError,
  PowernodeError,
  provisionerStreams,
  type AgentDesiredState,
  type AgentEnrolInput,
  type AgentEnrolResult,
  type AgentHeartbeat,
} from '@powernode/contracts';
import { entryOf, executeCommand, type EventStore } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import { sha256Hex, type EnrolmentKeys } from './agent-secrets.js';
import {
  agentDesiredState,
  DEFAULT_HEARTBEAT_KEEPALIVE_MS,
  desiredModulesFor,
  instanceDecider,
  instanceOfCredential,
  type HeartbeatReport,
  type InstanceView,
} from './domain/index.js';
import type { LivenessTable } from './liveness-table.js';
import type { ProvisionerReadModels } from './read-models.js';

/*
 * The provisioner's side of the agent protocol (libs/contracts/src/api/agent-api.ts), reached through the
 * gateway's /api/v1/agent/* endpoints:
 *   enrol      one-time enrolment token → a fresh credential (only its SHA-256 is recorded)
 *   desired    credential → the instance's desired state with its generation
 *   heartbeat  credential + report → liveness, recorded changes, and the current desired generation
 * Unknown instance, wrong token, used token, expired token and terminated instance all get the same
 * `unauthenticated` answer, so a caller without the secret learns nothing; the rule is in the log.
 */

const ENROLMENT_REFUSED = 'enrolment refused: the enrolment token is not valid for this instance (wrong, already used or expired); provision a new instance';
const CREDENTIAL_REFUSED = 'agent credential not recognised: it was never issued or was revoked when its instance was terminated; the agent must stop';

export interface AgentSessionsDeps {
  store: EventStore;
  readModels: ProvisionerReadModels;
  liveness: LivenessTable;
  keys: EnrolmentKeys;
  heartbeatIntervalMs: number;
  logger: Logger;
  clock?: () => Date;
}

/** Enrolment, desired state and heartbeats of instance agents. */
export class AgentSessions {
  private readonly clock: () => Date;
  /** Desired state per node, valid while the read models stay at `memoKey`: heartbeats ask far more often than anything changes. */
  private memo: { key: string; byNode: Map<string, AgentDesiredState> } = { key: '', byNode: new Map() };

  constructor(private readonly deps: AgentSessionsDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  /** Exchanges the one-time enrolment token for a credential bound to the instance. */
  async enrol(input: AgentEnrolInput, correlation_id: string): Promise<AgentEnrolResult> {
    // Derived, not random: a retry whose first answer was lost presents the same token and gets the same credential.
    const credential = this.deps.keys.agentCredential(input.instance_id);
    let position: number;
    try {
      const outcome = await executeCommand(
        this.deps.store,
        provisionerStreams.instance(input.instance_id),
        instanceDecider,
        {
          type: 'EnrolAgent',
          instance_id: input.instance_id,
          presented_token_sha256: sha256Hex(input.enrolment_token),
          credential_sha256: sha256Hex(credential),
          agent_version: null,
          now: this.clock().toISOString(),
        },
        // One enrolment per instance ever: a derived id makes a blindly repeated append a no-op.
        { actor: `agent:${input.instance_id}`, correlation_id, event_id: (i) => contentDerivedId('instance-enrolled', input.instance_id, String(i)) },
      );
      // Nothing appended: the decider found this very credential recorded, so this is a retry of an enrolment
      // whose answer was lost, and it gets the answer again.
      position = outcome.position;
    } catch (error) {
      if (!isPowernodeError(error) || !['unauthenticated', 'not_found', 'conflict'].includes(error.code)) throw error;
      this.deps.logger.warn({ instance_id: input.instance_id, rule: error.details?.['rule'] ?? error.code, correlation_id }, 'agent enrolment refused');
      throw new PowernodeError('unauthenticated', ENROLMENT_REFUSED, { cause: error });
    }
    await this.deps.readModels.caughtUpTo(position);
    this.deps.logger.info({ instance_id: input.instance_id, correlation_id }, 'agent enrolled');
    return { credential, heartbeat_interval_ms: this.deps.heartbeatIntervalMs };
  }

  /** What the credential's instance should run now. */
  async desired(credential: string): Promise<AgentDesiredState> {
    return this.desiredFor(await this.authenticate(credential));
  }

  /**
   * Records a heartbeat: the exact time in the liveness table, an event when the report changed something (or
   * moved the instance to running), and answers with the generation the agent should be at.
   */
  async heartbeat(credential: string, heartbeat: AgentHeartbeat, correlation_id: string): Promise<{ ok: true; desired_generation: string }> {
    const instanceId = await this.authenticate(credential);
    const now = this.clock().toISOString();
    const report = heartbeatReport(heartbeat);
    const liveness = {
      last_heartbeat_at: now,
      generation: heartbeat.generation,
      module_states: { ...heartbeat.module_states },
      services: [...heartbeat.services],
      address: heartbeat.address,
      integrity: [...heartbeat.integrity],
    };
    const recorded = entryOf(this.deps.readModels.instances.current.instances, instanceId);
    if (recorded !== undefined && heartbeatChangesNothing(recorded, report, now)) {
      // Most heartbeats: nothing to record, so the instance's stream is not even read.
      this.deps.liveness.record(instanceId, liveness);
      return { ok: true, desired_generation: this.desiredFor(instanceId).generation };
    }
    let position = 0;
    try {
      const outcome = await executeCommand(
        this.deps.store,
        provisionerStreams.instance(instanceId),
        instanceDecider,
        { type: 'RecordHeartbeat', instance_id: instanceId, report, now },
        { actor: `agent:${instanceId}`, correlation_id },
      );
      position = outcome.position;
    } catch (error) {
      // Terminated between authentication and the append: the credential is revoked.
      if (isPowernodeError(error) && error.code === 'conflict') throw new PowernodeError('unauthenticated', CREDENTIAL_REFUSED, { cause: error });
      throw error;
    }
    this.deps.liveness.record(instanceId, liveness);
    await this.deps.readModels.caughtUpTo(position);
    return { ok: true, desired_generation: this.desiredFor(instanceId).generation };
  }

  /** The instance a credential belongs to as the read models know it now (no catching up), or null. */
  instanceOfCredential(credential: string): string | null {
    return instanceOfCredential(this.deps.readModels.credentials.current, sha256Hex(credential));
  }

  /** The instance a credential belongs to; `unauthenticated` for anything else. */
  private async authenticate(credential: string): Promise<string> {
    const find = (): string | null => {
      const instanceId = this.instanceOfCredential(credential);
      if (instanceId === null) return null;
      return entryOf(this.deps.readModels.instances.current.instances, instanceId)?.status === 'terminated' ? null : instanceId;
    };
    // An enrolment another provisioner recorded a moment ago may not be folded here yet.
    const instanceId = find() ?? (await this.deps.readModels.caughtUpWithStore().then(find));
    if (instanceId === null) throw new PowernodeError('unauthenticated', CREDENTIAL_REFUSED, { details: { rule: 'agent_credential' } });
    return instanceId;
  }

  private desiredFor(instanceId: string): AgentDesiredState {
    const { desired, composition } = this.deps.readModels;
    const key = `${desired.checkpoint}:${composition.checkpoint}`;
    if (this.memo.key !== key) this.memo = { key, byNode: new Map() };
    const modules = desiredModulesFor(desired.current, { instance_id: instanceId });
    let state = this.memo.byNode.get(modules.node_id);
    if (state === undefined) {
      state = agentDesiredState(instanceId, modules, composition.current);
      this.memo.byNode.set(modules.node_id, state);
    }
    return { ...state, instance_id: instanceId };
  }
}

/**
 * True when the instance decider would record nothing for this report, judged from the instances read model:
 * the instance runs and is not stale, and the report repeats the last recorded one within the keep-alive
 * interval. When in doubt it says false, and the decider decides on the stream.
 */
export function heartbeatChangesNothing(
  recorded: InstanceView,
  report: HeartbeatReport,
  now: string,
  keepaliveMs: number = DEFAULT_HEARTBEAT_KEEPALIVE_MS,
): boolean {
  if (recorded.status !== 'running' || recorded.heartbeat_stale || recorded.last_heartbeat_at === null) return false;
  const sinceRecorded = Date.parse(now) - Date.parse(recorded.last_heartbeat_at);
  if (!(sinceRecorded >= 0 && sinceRecorded < keepaliveMs)) return false;
  // The view keeps an earlier agent version when a report has none: only a report that names one compares.
  if (report.agent_version === null || report.agent_version !== recorded.agent_version) return false;
  if (report.boot_id !== recorded.boot_id || report.composed_root_hash !== recorded.composed_root_hash) return false;
  const running = Object.entries(report.running_module_digests);
  if (
    running.length !== Object.keys(recorded.running_module_digests).length ||
    running.some(([name, digest]) => entryOf(recorded.running_module_digests, name) !== digest)
  )
    return false;
  return (
    report.errors.length === recorded.errors.length &&
    report.errors.every((e, i) => e.module === recorded.errors[i]!.module && e.code === recorded.errors[i]!.code && e.message === recorded.errors[i]!.message)
  );
}

const MAX_ERROR_MESSAGE = 2000;
const MAX_LABEL = 100;

/** The agent's heartbeat as the instance decider records it; refuses running modules that are not module names. */
export function heartbeatReport(heartbeat: AgentHeartbeat): HeartbeatReport {
  const badNames = Object.keys(heartbeat.running_module_digests).filter((name) => !catalogNameSchema.safeParse(name).success);
  if (badNames.length > 0) {
    throw new PowernodeError(
      'validation_failed',
      `running_module_digests names ${badNames.map((n) => JSON.stringify(n)).join(', ')}, which are not module names: report the module_name of the desired state`,
      {
        details: { field: 'running_module_digests', names: badNames, rule: 'module_name' },
      },
    );
  }
  return {
    running_module_digests: { ...heartbeat.running_module_digests },
    composed_root_hash: heartbeat.composed_root_hash,
    errors: heartbeat.errors.map((e) => {
      const named = e.module_name !== null && catalogNameSchema.safeParse(e.module_name).success;
      const message = named || e.module_name === null ? e.message : `${e.module_name}: ${e.message}`;
      return { module: named ? e.module_name : null, code: null, message: (message.trim() === '' ? '(no message)' : message).slice(0, MAX_ERROR_MESSAGE) };
    }),
    agent_version: label(heartbeat.agent_version),
    boot_id: label(heartbeat.boot_id),
  };
}

function label(value: string): string | null {
  const trimmed = value.trim().slice(0, MAX_LABEL);
  return trimmed === '' ? null : trimmed;
}
