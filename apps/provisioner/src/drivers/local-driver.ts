import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PowernodeError, canonicalJson, type InstanceExecEnd } from '@powernode/contracts';
import { KeyedLock } from '@powernode/events';
import { pollUntil } from '@powernode/runtime';
import {
  instanceNotCreated,
  instanceNotRunning,
  parseInstanceId,
  parseInstanceSpec,
  type AdoptOutcome,
  type DriverInstanceStatus,
  type ExecOptions,
  type HypervisorDriver,
  type InstanceHandle,
  type InstanceSpec,
} from './hypervisor-driver.js';
import { runStreaming, sandboxExecArgv, sandboxRootEntries } from './local-exec.js';
import { findProcessesWithEnvironment, isProcessAlive, readProcessIdentity, type ProcessIdentity } from './process-identity.js';

/*
 * The `local` driver: an instance is a private directory under the data dir plus an agent process the driver
 * supervises. Layout of `<dataDir>/instances/<instance_id>/` (mode 0700):
 *
 *   instance.json   the spec and whether the instance should run (mode 0600: it holds the enrolment token)
 *   agent.pid       identity of the running agent: pid, start time, boot id (see process-identity.ts)
 *   agent.log       the agent's stdout and stderr, appended
 *   sandbox/        the agent's own tree (POWERNODE_SANDBOX_DIR); its data dir defaults to sandbox/data
 *
 * Agents run in their own process group, detached from the provisioner, so they keep running while the
 * provisioner restarts; a new driver over the same data dir re-adopts them through `adopt`. Linux only: the
 * identity check reads /proc.
 */

/** Environment the agent receives (besides the inherited PATH, HOME, LANG, LC_ALL, TZ and TMPDIR). */
export const LOCAL_AGENT_ENV = [
  'POWERNODE_INSTANCE_ID',
  'POWERNODE_HOSTNAME',
  'POWERNODE_ENROLMENT_TOKEN',
  'POWERNODE_SANDBOX_DIR',
  'POWERNODE_AGENT_DATA_DIR',
  'POWERNODE_GATEWAY_URL',
  'POWERNODE_NATS_URL',
  'POWERNODE_OCI_REGISTRY',
  'POWERNODE_CA_PEM',
  'POWERNODE_AGENT_CACHE_DIR',
] as const;

/** Only these variables of the provisioner's environment reach an agent: never its tokens or database URLs. */
export const DEFAULT_INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'] as const;

/** Something the driver noticed about an agent (for logs and metrics). */
export type LocalDriverEvent =
  | { type: 'agent_started'; instance_id: string; pid: number }
  | { type: 'agent_adopted'; instance_id: string; pid: number }
  | { type: 'agent_exited'; instance_id: string; pid: number; code: number | null; signal: string | null }
  | { type: 'agent_restart_scheduled'; instance_id: string; delay_ms: number; attempt: number }
  | { type: 'agent_killed'; instance_id: string; pid: number; reason: 'stop_grace_expired' };

export interface LocalDriverOptions {
  /** The platform's data dir; instances live under `<dataDir>/instances/`. */
  dataDir: string;
  /** The agent's argv (default: `node apps/agent/dist/main.js` of this checkout, the compiled agent). */
  agentCommand?: readonly string[];
  /** Working directory of the agent (default: the repository root). */
  cwd?: string;
  /** How long an agent gets between SIGTERM and SIGKILL (default 10 s). */
  stopGraceMs?: number;
  /** How often an adopted agent (not this process's child) is checked for life (default 1 s). */
  pollIntervalMs?: number;
  /** Restart delays after an agent dies unexpectedly: doubling from `initialMs` up to `maxMs`. */
  restartBackoff?: { initialMs: number; maxMs: number };
  /** An agent that ran this long before dying restarts without delay growth (default 60 s). */
  healthyRunMs?: number;
  /** Names of the provisioner's environment variables passed on to agents. */
  inheritEnv?: readonly string[];
  /** Variables every agent of this driver gets on top of the spec's (e.g. `POWERNODE_AGENT_MACHINE` for nspawn). */
  agentEnvironment?: Readonly<Record<string, string>>;
  /**
   * A digest-addressed artifact cache shared by every agent of this driver (`POWERNODE_AGENT_CACHE_DIR`), so a
   * layer used by many instances is pulled once; the provisioner collects what no instance needs any more.
   */
  cacheDir?: string;
  onEvent?: (event: LocalDriverEvent) => void;
}

interface InstanceRecordFile {
  spec: InstanceSpec;
  desired: 'running' | 'stopped';
  created_at: string;
}

interface PidFile extends ProcessIdentity {
  argv: string[];
  started_at: string;
}

interface Supervision {
  identity: ProcessIdentity;
  child: ChildProcess | null;
  poll: NodeJS.Timeout | null;
  startedAt: number;
  /** Set while the driver itself is stopping the agent, so its exit is not a crash. */
  stopping: boolean;
}

const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const KILL_CONFIRM_MS = 5_000;
const EXIT_POLL_MS = 20;

/** Runs each instance as a sandbox directory plus a supervised agent process on this machine. */
export class LocalDriver implements HypervisorDriver {
  readonly kind = 'local';
  private readonly instancesDir: string;
  private readonly agentCommand: readonly string[];
  private readonly cwd: string;
  private readonly stopGraceMs: number;
  private readonly pollIntervalMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly healthyRunMs: number;
  private readonly inheritEnv: readonly string[];
  private readonly extraAgentEnv: Readonly<Record<string, string>>;
  private readonly cacheDir: string | undefined;
  private readonly onEvent: (event: LocalDriverEvent) => void;
  private readonly supervised = new Map<string, Supervision>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  private readonly instanceLock = new KeyedLock();
  private closed = false;

  constructor(options: LocalDriverOptions) {
    if (!existsSync('/proc/self/stat')) {
      throw new PowernodeError('config_invalid', 'the local driver needs /proc (Linux) to tell its agents from other processes; use another driver on this system', {
        details: { driver: 'local', rule: 'procfs_required' },
      });
    }
    this.instancesDir = path.join(path.resolve(options.dataDir), 'instances');
    this.agentCommand = options.agentCommand ?? [process.execPath, path.join(REPOSITORY_ROOT, 'apps/agent/dist/main.js')];
    if (this.agentCommand.length === 0) {
      throw new PowernodeError('config_invalid', 'the local driver needs an agent command (argv with at least the program)', { details: { driver: 'local', rule: 'agent_command' } });
    }
    this.cwd = options.cwd ?? REPOSITORY_ROOT;
    this.stopGraceMs = options.stopGraceMs ?? 10_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.backoff = options.restartBackoff ?? { initialMs: 1_000, maxMs: 30_000 };
    this.healthyRunMs = options.healthyRunMs ?? 60_000;
    this.inheritEnv = options.inheritEnv ?? DEFAULT_INHERITED_ENV;
    this.extraAgentEnv = options.agentEnvironment ?? {};
    this.cacheDir = options.cacheDir === undefined ? undefined : path.resolve(options.cacheDir);
    this.onEvent = options.onEvent ?? (() => undefined);
  }

  /** Creates the sandbox directory and records the spec; the agent is not started yet. */
  async create(input: InstanceSpec): Promise<InstanceHandle> {
    const spec = parseInstanceSpec(input);
    return this.serialize(spec.instance_id, async () => {
      const existing = await this.readRecord(spec.instance_id);
      if (existing !== null) {
        if (canonicalJson(existing.spec) === canonicalJson(spec)) return this.handle(spec.instance_id);
        throw new PowernodeError('already_exists', `the local driver already holds instance ${spec.instance_id} with another spec: destroy it first or use a new instance id`, {
          details: { driver: 'local', instance_id: spec.instance_id, rule: 'driver_instance_unique' },
        });
      }
      await mkdir(this.instancesDir, { recursive: true, mode: 0o700 });
      const dir = this.instanceDir(spec.instance_id);
      // `recursive` tolerates the directory of a create that crashed before writing instance.json.
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await mkdir(path.join(dir, 'sandbox'), { recursive: true, mode: 0o700 });
      await this.writeRecord(spec.instance_id, { spec, desired: 'stopped', created_at: new Date().toISOString() });
      return this.handle(spec.instance_id);
    });
  }

  /** Starts the agent (no-op when it already runs) and supervises it from now on. */
  async start(instanceId: string): Promise<void> {
    const id = parseInstanceId(instanceId);
    await this.serialize(id, async () => {
      const record = await this.requireRecord(id);
      if (record.desired !== 'running') await this.writeRecord(id, { ...record, desired: 'running' });
      const running = await this.runningIdentity(id);
      if (running !== null) {
        this.superviseAdopted(id, running);
        return;
      }
      await this.spawnAgent(id, record.spec);
    });
  }

  /** SIGTERM to the agent's process group, SIGKILL after the grace period; the instance stays stopped. */
  async stop(instanceId: string): Promise<void> {
    const id = parseInstanceId(instanceId);
    await this.serialize(id, async () => {
      const record = await this.readRecord(id);
      if (record === null) return;
      if (record.desired !== 'stopped') await this.writeRecord(id, { ...record, desired: 'stopped' });
      await this.stopAgent(id);
    });
  }

  /** Stops the agent and removes the instance directory with everything in it. */
  async destroy(instanceId: string): Promise<void> {
    const id = parseInstanceId(instanceId);
    await this.serialize(id, async () => {
      const dir = this.instanceDir(id);
      if (!existsSync(dir)) return;
      const record = await this.readRecord(id);
      if (record !== null && record.desired !== 'stopped') await this.writeRecord(id, { ...record, desired: 'stopped' });
      await this.stopAgent(id);
      await rm(dir, { recursive: true, force: true });
      this.failures.delete(id);
    });
  }

  async status(instanceId: string): Promise<DriverInstanceStatus> {
    const id = parseInstanceId(instanceId);
    if ((await this.readRecord(id)) === null) return 'absent';
    return (await this.runningIdentity(id)) === null ? 'stopped' : 'running';
  }

  async list(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.instancesDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const ids: string[] = [];
    for (const entry of entries) if (existsSync(path.join(this.instancesDir, entry, 'instance.json'))) ids.push(entry);
    return ids.sort();
  }

  /** After a provisioner restart: supervise a still-running agent, restart one that should run, leave a stopped one. */
  async adopt(instanceId: string): Promise<AdoptOutcome> {
    const id = parseInstanceId(instanceId);
    return this.serialize(id, async (): Promise<AdoptOutcome> => {
      const record = await this.requireRecord(id);
      const running = await this.runningIdentity(id);
      if (record.desired === 'stopped') {
        // A stop that was interrupted half-way leaves an agent that should not run: finish the stop.
        if (running !== null) await this.stopAgent(id);
        return { outcome: 'stopped', instance_id: id };
      }
      if (running !== null) {
        this.superviseAdopted(id, running);
        this.onEvent({ type: 'agent_adopted', instance_id: id, pid: running.pid });
        return { outcome: 'adopted', instance_id: id };
      }
      await this.spawnAgent(id, record.spec);
      return { outcome: 'restarted', instance_id: id };
    });
  }

  /** Runs argv in bubblewrap on the composed root the instance's agent published as `<sandbox>/current`. */
  async exec(instanceId: string, argv: readonly string[], options: ExecOptions): Promise<InstanceExecEnd> {
    const id = parseInstanceId(instanceId);
    if (argv.length === 0 || argv[0] === '') {
      throw new PowernodeError('validation_failed', 'exec needs an argv naming at least the program', { details: { field: 'argv', rule: 'exec_argv_program' } });
    }
    const record = await this.requireRecord(id);
    if ((await this.runningIdentity(id)) === null) throw instanceNotRunning(this.kind, id);
    const entries = await sandboxRootEntries(path.join(this.instanceDir(id), 'sandbox', 'current'), id);
    return runStreaming(sandboxExecArgv({ program: 'bwrap', entries, hostname: record.spec.hostname, argv }), options);
  }

  /** Stops supervising; agents keep running for the next provisioner to adopt. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.restartTimers.values()) clearTimeout(timer);
    this.restartTimers.clear();
    for (const [id] of this.supervised) this.unsupervise(id);
    await this.instanceLock.idle();
  }

  /** The pid of the agent running for an instance, or null (for operators and tests). */
  async agentPid(instanceId: string): Promise<number | null> {
    return (await this.runningIdentity(parseInstanceId(instanceId)))?.pid ?? null;
  }

  /** Where an instance's files live. */
  instanceDir(instanceId: string): string {
    return path.join(this.instancesDir, parseInstanceId(instanceId));
  }

  // ---- internals ------------------------------------------------------------------------------------------

  private handle(id: string): InstanceHandle {
    return { instance_id: id, driver: this.kind, location: this.instanceDir(id) };
  }

  /** One operation at a time per instance, in call order. */
  private serialize<T>(id: string, operation: () => Promise<T>): Promise<T> {
    return this.instanceLock.run(id, operation);
  }

  private async readRecord(id: string): Promise<InstanceRecordFile | null> {
    try {
      return JSON.parse(await readFile(path.join(this.instanceDir(id), 'instance.json'), 'utf8')) as InstanceRecordFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new PowernodeError('internal', `instance ${id}: cannot read ${path.join(this.instanceDir(id), 'instance.json')}: ${(error as Error).message}`, { cause: error });
    }
  }

  private async requireRecord(id: string): Promise<InstanceRecordFile> {
    const record = await this.readRecord(id);
    if (record === null) throw instanceNotCreated(this.kind, id);
    return record;
  }

  private async writeRecord(id: string, record: InstanceRecordFile): Promise<void> {
    await writeFileAtomically(path.join(this.instanceDir(id), 'instance.json'), `${JSON.stringify(record, null, 2)}\n`);
  }

  private pidFilePath(id: string): string {
    return path.join(this.instanceDir(id), 'agent.pid');
  }

  /** The identity of the instance's agent when it is alive and is the process we started; else null. */
  private async runningIdentity(id: string): Promise<ProcessIdentity | null> {
    let pidFile: PidFile;
    try {
      pidFile = JSON.parse(await readFile(this.pidFilePath(id), 'utf8')) as PidFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return this.unrecordedAgent(id);
      // A torn or foreign pid file names no process we can vouch for.
      if (error instanceof SyntaxError) return null;
      throw error;
    }
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
    if (!existsSync(path.join(this.instanceDir(id), 'instance.json'))) return null;
    const [identity] = await findProcessesWithEnvironment('POWERNODE_SANDBOX_DIR', path.join(this.instanceDir(id), 'sandbox'), this.agentCommand);
    if (identity === undefined) return null;
    const pidFile: PidFile = { ...identity, argv: [...this.agentCommand], started_at: new Date().toISOString() };
    await writeFileAtomically(this.pidFilePath(id), `${JSON.stringify(pidFile)}\n`);
    return identity;
  }

  private agentEnvironment(id: string, spec: InstanceSpec): NodeJS.ProcessEnv {
    const sandbox = path.join(this.instanceDir(id), 'sandbox');
    const env: NodeJS.ProcessEnv = {};
    for (const name of this.inheritEnv) if (process.env[name] !== undefined) env[name] = process.env[name];
    env['POWERNODE_INSTANCE_ID'] = spec.instance_id;
    env['POWERNODE_HOSTNAME'] = spec.hostname;
    env['POWERNODE_ENROLMENT_TOKEN'] = spec.enrolment_token;
    env['POWERNODE_SANDBOX_DIR'] = sandbox;
    env['POWERNODE_AGENT_DATA_DIR'] = spec.data_dir ?? path.join(sandbox, 'data');
    env['POWERNODE_GATEWAY_URL'] = spec.gateway_url;
    env['POWERNODE_OCI_REGISTRY'] = spec.oci_registry;
    if (spec.nats_url !== undefined) env['POWERNODE_NATS_URL'] = spec.nats_url;
    if (spec.ca_pem !== undefined) env['POWERNODE_CA_PEM'] = spec.ca_pem;
    if (this.cacheDir !== undefined) env['POWERNODE_AGENT_CACHE_DIR'] = this.cacheDir;
    Object.assign(env, this.extraAgentEnv);
    return env;
  }

  private async spawnAgent(id: string, spec: InstanceSpec): Promise<void> {
    const [program, ...args] = this.agentCommand as [string, ...string[]];
    const log = await open(path.join(this.instanceDir(id), 'agent.log'), 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(program, args, { cwd: this.cwd, env: this.agentEnvironment(id, spec), detached: true, stdio: ['ignore', log.fd, log.fd] });
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
        `instance ${id}: cannot start the agent "${this.agentCommand.join(' ')}": ${(error as Error).message}; check the local driver's agent command`,
        { cause: error, details: { driver: 'local', instance_id: id, rule: 'agent_spawn' } },
      );
    } finally {
      await log.close();
    }
    child.unref();
    const pid = child.pid!;
    const identity = await readProcessIdentity(pid);
    if (identity === null) return; // already gone: the exit listener decides about a restart
    const pidFile: PidFile = { ...identity, argv: [...this.agentCommand], started_at: new Date().toISOString() };
    await writeFileAtomically(this.pidFilePath(id), `${JSON.stringify(pidFile)}\n`);
    this.unsupervise(id);
    if (!this.closed) this.supervised.set(id, { identity, child, poll: null, startedAt: Date.now(), stopping: false });
    this.onEvent({ type: 'agent_started', instance_id: id, pid });
  }

  /** Watches an agent this process did not spawn (adopted after a restart) by polling its identity. */
  private superviseAdopted(id: string, identity: ProcessIdentity): void {
    const current = this.supervised.get(id);
    if (this.closed || (current !== undefined && current.identity.pid === identity.pid && current.identity.start_ticks === identity.start_ticks)) return;
    this.unsupervise(id);
    const supervision: Supervision = { identity, child: null, poll: null, startedAt: Date.now(), stopping: false };
    supervision.poll = setInterval(() => {
      void isProcessAlive(identity).then((alive) => {
        if (!alive && this.supervised.get(id) === supervision) this.onAgentGone(id, supervision, null, null);
      });
    }, this.pollIntervalMs);
    supervision.poll.unref();
    this.supervised.set(id, supervision);
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
        this.onEvent({ type: 'agent_exited', instance_id: id, pid: child.pid, code, signal });
        this.scheduleRestart(id, 0);
      }
      return;
    }
    this.onAgentGone(id, supervision, code, signal);
  }

  private onAgentGone(id: string, supervision: Supervision, code: number | null, signal: string | null): void {
    this.onEvent({ type: 'agent_exited', instance_id: id, pid: supervision.identity.pid, code, signal });
    const ranFor = Date.now() - supervision.startedAt;
    const stopping = supervision.stopping;
    this.unsupervise(id);
    if (stopping || this.closed) return;
    this.scheduleRestart(id, ranFor);
  }

  /** Restarts a crashed agent after a delay that doubles with each quick failure. */
  private scheduleRestart(id: string, ranForMs: number): void {
    if (this.closed || this.restartTimers.has(id)) return;
    const failures = ranForMs >= this.healthyRunMs ? 0 : (this.failures.get(id) ?? 0);
    const delay = Math.min(this.backoff.initialMs * 2 ** failures, this.backoff.maxMs);
    this.failures.set(id, failures + 1);
    this.onEvent({ type: 'agent_restart_scheduled', instance_id: id, delay_ms: delay, attempt: failures + 1 });
    const timer = setTimeout(() => {
      this.restartTimers.delete(id);
      void this.serialize(id, async () => {
        if (this.closed) return;
        const record = await this.readRecord(id);
        if (record === null || record.desired !== 'running' || (await this.runningIdentity(id)) !== null) return;
        await this.spawnAgent(id, record.spec);
      }).catch(() => this.scheduleRestart(id, 0));
    }, delay);
    timer.unref();
    this.restartTimers.set(id, timer);
  }

  /** Ends the agent (if it runs): SIGTERM to its group, SIGKILL after the grace period. */
  private async stopAgent(id: string): Promise<void> {
    const pending = this.restartTimers.get(id);
    if (pending !== undefined) clearTimeout(pending);
    this.restartTimers.delete(id);
    const identity = await this.runningIdentity(id);
    const supervision = this.supervised.get(id);
    if (supervision !== undefined) supervision.stopping = true;
    if (identity !== null) {
      await signalGroup(identity, 'SIGTERM');
      if (!(await waitForExit(identity, this.stopGraceMs))) {
        this.onEvent({ type: 'agent_killed', instance_id: id, pid: identity.pid, reason: 'stop_grace_expired' });
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
    await rm(this.pidFilePath(id), { force: true });
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

async function writeFileAtomically(file: string, content: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  await rename(temporary, file);
}
