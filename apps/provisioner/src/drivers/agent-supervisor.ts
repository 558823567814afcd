import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import type { KeyedLock } from '@powernode/events';
import { findProcessesWithEnvironment, isProcessAlive, readProcessIdentity, type ProcessIdentity } from '@powernode/host-machine';
import { pollUntil } from '@powernode/runtime';
import type { InstanceSpec } from './hypervisor-driver.js';
import type { InstanceRecords } from './instance-records.js';

/*
 * The agents of the local driver: one process per running instance, started in its own process group and
 * detached, so it keeps running while the provisioner restarts; a new supervisor re-adopts it from agent.pid.
 * An agent that dies unexpectedly is restarted with a backoff. Every signal goes to a pid only while its
 * recorded identity (boot id, pid, start time) still matches.
 */

/** Something the driver noticed about an agent (for logs and metrics). */
export type LocalDriverEvent =
  | { type: 'agent_started'; instance_id: string; pid: number }
  | { type: 'agent_adopted'; instance_id: string; pid: number }
  | { type: 'agent_exited'; instance_id: string; pid: number; code: number | null; signal: string | null }
  | { type: 'agent_restart_scheduled'; instance_id: string; delay_ms: number; attempt: number }
  | { type: 'agent_killed'; instance_id: string; pid: number; reason: 'stop_grace_expired' };

export interface AgentSupervisorOptions {
  /** The agent's argv (at least the program). */
  agentCommand: readonly string[];
  cwd: string;
  /** How long an agent gets between SIGTERM and SIGKILL. */
  stopGraceMs: number;
  /** How often an adopted agent (not this process's child) is checked for life. */
  pollIntervalMs: number;
  /** Restart delays after an agent dies unexpectedly: doubling from `initialMs` up to `maxMs`. */
  restartBackoff: { initialMs: number; maxMs: number };
  /** An agent that ran this long before dying restarts without delay growth. */
  healthyRunMs: number;
  /** Names of the provisioner's environment variables passed on to agents. */
  inheritEnv: readonly string[];
  /** Variables every agent gets on top of the spec's. */
  agentEnvironment: Readonly<Record<string, string>>;
  /** The shared artifact cache (`POWERNODE_AGENT_CACHE_DIR`), if any. */
  cacheDir: string | undefined;
  onEvent: (event: LocalDriverEvent) => void;
}

interface Supervision {
  identity: ProcessIdentity;
  child: ChildProcess | null;
  poll: NodeJS.Timeout | null;
  startedAt: number;
  /** Set while the supervisor itself is stopping the agent, so its exit is not a crash. */
  stopping: boolean;
}

const KILL_CONFIRM_MS = 5_000;
const EXIT_POLL_MS = 20;

/**
 * Starts, watches, restarts and stops the instances' agents. Its operations on one instance run under the
 * driver's per-instance lock (`lock`), which the delayed restarts take too.
 */
export class AgentSupervisor {
  private readonly supervised = new Map<string, Supervision>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly options: AgentSupervisorOptions,
    private readonly records: InstanceRecords,
    private readonly lock: KeyedLock,
  ) {}

  /** The identity of the instance's agent when it is alive and is the process we started; else null. */
  async runningIdentity(id: string): Promise<ProcessIdentity | null> {
    const pidFile = await this.records.readAgentPid(id);
    if (pidFile === 'absent') return this.unrecordedAgent(id);
    if (pidFile === null) return null;
    const identity = { pid: pidFile.pid, start_ticks: pidFile.start_ticks, boot_id: pidFile.boot_id };
    if (!Number.isInteger(identity.pid) || identity.pid <= 1) return null;
    return (await isProcessAlive(identity)) ? identity : null;
  }

  /**
   * An agent whose pid was never written down: a driver killed between spawning it and writing agent.pid left
   * it running. Found by the sandbox in its environment and recorded, so it is adopted (or stopped) like any
   * other agent instead of getting a second copy next to it.
   */
  private async unrecordedAgent(id: string): Promise<ProcessIdentity | null> {
    if (!this.records.exists(id)) return null;
    const [identity] = await findProcessesWithEnvironment('POWERNODE_SANDBOX_DIR', this.records.sandboxDir(id), this.options.agentCommand);
    if (identity === undefined) return null;
    await this.records.writeAgentPid(id, identity, this.options.agentCommand);
    return identity;
  }

  private agentEnvironment(id: string, spec: InstanceSpec): NodeJS.ProcessEnv {
    const sandbox = this.records.sandboxDir(id);
    const env: NodeJS.ProcessEnv = {};
    for (const name of this.options.inheritEnv) if (process.env[name] !== undefined) env[name] = process.env[name];
    env['POWERNODE_INSTANCE_ID'] = spec.instance_id;
    env['POWERNODE_HOSTNAME'] = spec.hostname;
    env['POWERNODE_ENROLMENT_TOKEN'] = spec.enrolment_token;
    env['POWERNODE_SANDBOX_DIR'] = sandbox;
    env['POWERNODE_AGENT_DATA_DIR'] = spec.data_dir ?? path.join(sandbox, 'data');
    env['POWERNODE_GATEWAY_URL'] = spec.gateway_url;
    env['POWERNODE_OCI_REGISTRY'] = spec.oci_registry;
    if (spec.nats_url !== undefined) env['POWERNODE_NATS_URL'] = spec.nats_url;
    if (spec.ca_pem !== undefined) env['POWERNODE_CA_PEM'] = spec.ca_pem;
    if (this.options.cacheDir !== undefined) env['POWERNODE_AGENT_CACHE_DIR'] = this.options.cacheDir;
    Object.assign(env, this.options.agentEnvironment);
    // A VM's resources: the spec's, over the driver's defaults.
    if (spec.memory_mb !== undefined) env['POWERNODE_QEMU_MEMORY_MB'] = String(spec.memory_mb);
    if (spec.vcpus !== undefined) env['POWERNODE_QEMU_VCPUS'] = String(spec.vcpus);
    return env;
  }

  /** Starts the instance's agent and supervises it from now on. */
  async spawnAgent(id: string, spec: InstanceSpec): Promise<void> {
    const [program, ...args] = this.options.agentCommand as [string, ...string[]];
    const log = await open(this.records.agentLogPath(id), 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(program, args, { cwd: this.options.cwd, env: this.agentEnvironment(id, spec), detached: true, stdio: ['ignore', log.fd, log.fd] });
      // Listen before anything is awaited, so an agent that dies at once is still seen.
      child.once('exit', (code, signal) => this.onAgentExit(id, child, code, signal));
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new PowernodeError(
        code === 'ENOENT' || code === 'EACCES' ? 'config_invalid' : 'internal',
        `instance ${id}: cannot start the agent "${this.options.agentCommand.join(' ')}": ${(error as Error).message}; check the local driver's agent command`,
        { cause: error, details: { driver: 'local', instance_id: id, rule: 'agent_spawn' } },
      );
    } finally {
      await log.close();
    }
    child.unref();
    const pid = child.pid!;
    const identity = await readProcessIdentity(pid);
    if (identity === null) return; // already gone: the exit listener decides about a restart
    await this.records.writeAgentPid(id, identity, this.options.agentCommand);
    this.unsupervise(id);
    if (!this.closed) this.supervised.set(id, { identity, child, poll: null, startedAt: Date.now(), stopping: false });
    this.options.onEvent({ type: 'agent_started', instance_id: id, pid });
  }

  /** Watches an agent this process did not spawn (adopted after a restart) by polling its identity. */
  superviseAdopted(id: string, identity: ProcessIdentity): void {
    const current = this.supervised.get(id);
    if (this.closed || (current !== undefined && current.identity.pid === identity.pid && current.identity.start_ticks === identity.start_ticks)) return;
    this.unsupervise(id);
    const supervision: Supervision = { identity, child: null, poll: null, startedAt: Date.now(), stopping: false };
    supervision.poll = setInterval(() => {
      void isProcessAlive(identity).then((alive) => {
        if (!alive && this.supervised.get(id) === supervision) this.onAgentGone(id, supervision, null, null);
      });
    }, this.options.pollIntervalMs);
    supervision.poll.unref();
    this.supervised.set(id, supervision);
  }

  /** Supervises an agent found running after a provisioner restart, and says so. */
  adoptRunning(id: string, identity: ProcessIdentity): void {
    this.superviseAdopted(id, identity);
    this.options.onEvent({ type: 'agent_adopted', instance_id: id, pid: identity.pid });
  }

  /** Ends the agent (if it runs): SIGTERM to its group, SIGKILL after the grace period. */
  async stopAgent(id: string): Promise<void> {
    const pending = this.restartTimers.get(id);
    if (pending !== undefined) clearTimeout(pending);
    this.restartTimers.delete(id);
    const identity = await this.runningIdentity(id);
    const supervision = this.supervised.get(id);
    if (supervision !== undefined) supervision.stopping = true;
    if (identity !== null) {
      await signalGroup(identity, 'SIGTERM');
      if (!(await waitForExit(identity, this.options.stopGraceMs))) {
        this.options.onEvent({ type: 'agent_killed', instance_id: id, pid: identity.pid, reason: 'stop_grace_expired' });
        await signalGroup(identity, 'SIGKILL');
        if (!(await waitForExit(identity, KILL_CONFIRM_MS))) {
          throw new PowernodeError('internal', `instance ${id}: agent pid ${identity.pid} survived SIGKILL; check for an uninterruptible process (state D)`, {
            details: { driver: 'local', instance_id: id, pid: identity.pid },
            retryable: true,
          });
        }
      }
    }
    this.unsupervise(id);
    await this.records.removeAgentPid(id);
  }

  /** Forgets the instance's crash count (it was destroyed). */
  forget(id: string): void {
    this.failures.delete(id);
  }

  /** Stops supervising; agents keep running for the next supervisor to adopt. */
  close(): void {
    this.closed = true;
    for (const timer of this.restartTimers.values()) clearTimeout(timer);
    this.restartTimers.clear();
    for (const [id] of this.supervised) this.unsupervise(id);
  }

  private unsupervise(id: string): void {
    const supervision = this.supervised.get(id);
    if (supervision === undefined) return;
    if (supervision.poll !== null) clearInterval(supervision.poll);
    supervision.child?.removeAllListeners('exit');
    this.supervised.delete(id);
  }

  private onAgentExit(id: string, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const supervision = this.supervised.get(id);
    if (supervision?.child !== child) {
      // Exited before supervision was set up (it died at once), or after it was handed over.
      if (supervision === undefined && !this.closed && child.pid !== undefined) {
        this.options.onEvent({ type: 'agent_exited', instance_id: id, pid: child.pid, code, signal });
        this.scheduleRestart(id, 0);
      }
      return;
    }
    this.onAgentGone(id, supervision, code, signal);
  }

  private onAgentGone(id: string, supervision: Supervision, code: number | null, signal: string | null): void {
    this.options.onEvent({ type: 'agent_exited', instance_id: id, pid: supervision.identity.pid, code, signal });
    const ranFor = Date.now() - supervision.startedAt;
    const stopping = supervision.stopping;
    this.unsupervise(id);
    if (stopping || this.closed) return;
    this.scheduleRestart(id, ranFor);
  }

  /** Restarts a crashed agent after a delay that doubles with each quick failure. */
  private scheduleRestart(id: string, ranForMs: number): void {
    if (this.closed || this.restartTimers.has(id)) return;
    const { initialMs, maxMs } = this.options.restartBackoff;
    const failures = ranForMs >= this.options.healthyRunMs ? 0 : (this.failures.get(id) ?? 0);
    const delay = Math.min(initialMs * 2 ** failures, maxMs);
    this.failures.set(id, failures + 1);
    this.options.onEvent({ type: 'agent_restart_scheduled', instance_id: id, delay_ms: delay, attempt: failures + 1 });
    const timer = setTimeout(() => {
      this.restartTimers.delete(id);
      void this.lock
        .run(id, async () => {
          if (this.closed) return;
          const record = await this.records.read(id);
          if (record === null || record.desired !== 'running' || (await this.runningIdentity(id)) !== null) return;
          await this.spawnAgent(id, record.spec);
        })
        .catch(() => this.scheduleRestart(id, 0));
    }, delay);
    timer.unref();
    this.restartTimers.set(id, timer);
  }
}

/** Sends `signal` to the agent's process group (and to the agent itself should it have left the group). */
async function signalGroup(identity: ProcessIdentity, signal: NodeJS.Signals): Promise<void> {
  // Checked right before signalling: the pid must still be the process we started.
  if (!(await isProcessAlive(identity))) return;
  try {
    process.kill(-identity.pid, signal);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
  try {
    process.kill(identity.pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function waitForExit(identity: ProcessIdentity, timeoutMs: number): Promise<boolean> {
  return (await pollUntil(async () => !(await isProcessAlive(identity)), { timeoutMs, intervalMs: EXIT_POLL_MS })) === true;
}
