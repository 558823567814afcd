import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PowernodeError, canonicalJson, type InstanceExecEnd } from '@powernode/contracts';
import { KeyedLock } from '@powernode/events';
import { AgentSupervisor, type LocalDriverEvent } from './agent-supervisor.js';
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
import { InstanceRecords, type InstanceRecord } from './instance-records.js';
import { runStreaming, sandboxExecArgv, sandboxRootEntries } from './local-exec.js';

/*
 * The `local` driver: an instance is a private directory under the data dir (instance-records.ts) plus an
 * agent process the driver supervises (agent-supervisor.ts). Agents run in their own process group, detached
 * from the provisioner, so they keep running while the provisioner restarts; a new driver over the same data
 * dir re-adopts them through `adopt`. Linux only: the identity check reads /proc.
 */

export type { LocalDriverEvent };

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

const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** Runs each instance as a sandbox directory plus a supervised agent process on this machine. */
export class LocalDriver implements HypervisorDriver {
  readonly kind = 'local';
  private readonly records: InstanceRecords;
  private readonly agents: AgentSupervisor;
  private readonly instanceLock = new KeyedLock();

  constructor(options: LocalDriverOptions) {
    if (!existsSync('/proc/self/stat')) {
      throw new PowernodeError(
        'config_invalid',
        'the local driver needs /proc (Linux) to tell its agents from other processes; use another driver on this system',
        {
          details: { driver: 'local', rule: 'procfs_required' },
        },
      );
    }
    const agentCommand = options.agentCommand ?? [process.execPath, path.join(REPOSITORY_ROOT, 'apps/agent/dist/main.js')];
    if (agentCommand.length === 0) {
      throw new PowernodeError('config_invalid', 'the local driver needs an agent command (argv with at least the program)', {
        details: { driver: 'local', rule: 'agent_command' },
      });
    }
    this.records = new InstanceRecords(options.dataDir);
    this.agents = new AgentSupervisor(
      {
        agentCommand,
        cwd: options.cwd ?? REPOSITORY_ROOT,
        stopGraceMs: options.stopGraceMs ?? 10_000,
        pollIntervalMs: options.pollIntervalMs ?? 1_000,
        restartBackoff: options.restartBackoff ?? { initialMs: 1_000, maxMs: 30_000 },
        healthyRunMs: options.healthyRunMs ?? 60_000,
        inheritEnv: options.inheritEnv ?? DEFAULT_INHERITED_ENV,
        agentEnvironment: options.agentEnvironment ?? {},
        cacheDir: options.cacheDir === undefined ? undefined : path.resolve(options.cacheDir),
        onEvent: options.onEvent ?? (() => undefined),
      },
      this.records,
      this.instanceLock,
    );
  }

  /** Creates the sandbox directory and records the spec; the agent is not started yet. */
  async create(input: InstanceSpec): Promise<InstanceHandle> {
    const spec = parseInstanceSpec(input);
    return this.serialize(spec.instance_id, async () => {
      const existing = await this.records.read(spec.instance_id);
      if (existing !== null) {
        if (canonicalJson(existing.spec) === canonicalJson(spec)) return this.handle(spec.instance_id);
        throw new PowernodeError(
          'already_exists',
          `the local driver already holds instance ${spec.instance_id} with another spec: destroy it first or use a new instance id`,
          {
            details: { driver: 'local', instance_id: spec.instance_id, rule: 'driver_instance_unique' },
          },
        );
      }
      await this.records.makeDirectories(spec.instance_id);
      await this.records.write(spec.instance_id, { spec, desired: 'stopped', created_at: new Date().toISOString() });
      return this.handle(spec.instance_id);
    });
  }

  /** Starts the agent (no-op when it already runs) and supervises it from now on. */
  async start(instanceId: string): Promise<void> {
    const id = parseInstanceId(instanceId);
    await this.serialize(id, async () => {
      const record = await this.requireRecord(id);
      if (record.desired !== 'running') await this.records.write(id, { ...record, desired: 'running' });
      const running = await this.agents.runningIdentity(id);
      if (running !== null) {
        this.agents.superviseAdopted(id, running);
        return;
      }
      await this.agents.spawnAgent(id, record.spec);
    });
  }

  /** SIGTERM to the agent's process group, SIGKILL after the grace period; the instance stays stopped. */
  async stop(instanceId: string): Promise<void> {
    const id = parseInstanceId(instanceId);
    await this.serialize(id, async () => {
      const record = await this.records.read(id);
      if (record === null) return;
      if (record.desired !== 'stopped') await this.records.write(id, { ...record, desired: 'stopped' });
      await this.agents.stopAgent(id);
    });
  }

  /** Stops the agent and removes the instance directory with everything in it. */
  async destroy(instanceId: string): Promise<void> {
    const id = parseInstanceId(instanceId);
    await this.serialize(id, async () => {
      if (!existsSync(this.records.instanceDir(id))) return;
      const record = await this.records.read(id);
      if (record !== null && record.desired !== 'stopped') await this.records.write(id, { ...record, desired: 'stopped' });
      await this.agents.stopAgent(id);
      await this.records.remove(id);
      this.agents.forget(id);
    });
  }

  async status(instanceId: string): Promise<DriverInstanceStatus> {
    const id = parseInstanceId(instanceId);
    if ((await this.records.read(id)) === null) return 'absent';
    return (await this.agents.runningIdentity(id)) === null ? 'stopped' : 'running';
  }

  list(): Promise<string[]> {
    return this.records.list();
  }

  /** After a provisioner restart: supervise a still-running agent, restart one that should run, leave a stopped one. */
  async adopt(instanceId: string): Promise<AdoptOutcome> {
    const id = parseInstanceId(instanceId);
    return this.serialize(id, async (): Promise<AdoptOutcome> => {
      const record = await this.requireRecord(id);
      const running = await this.agents.runningIdentity(id);
      if (record.desired === 'stopped') {
        // A stop that was interrupted half-way leaves an agent that should not run: finish the stop.
        if (running !== null) await this.agents.stopAgent(id);
        return { outcome: 'stopped', instance_id: id };
      }
      if (running !== null) {
        this.agents.adoptRunning(id, running);
        return { outcome: 'adopted', instance_id: id };
      }
      await this.agents.spawnAgent(id, record.spec);
      return { outcome: 'restarted', instance_id: id };
    });
  }

  /** Runs argv in bubblewrap on the composed root the instance's agent published as `<sandbox>/current`. */
  async exec(instanceId: string, argv: readonly string[], options: ExecOptions): Promise<InstanceExecEnd> {
    const id = parseInstanceId(instanceId);
    if (argv.length === 0 || argv[0] === '') {
      throw new PowernodeError('validation_failed', 'exec needs an argv naming at least the program', {
        details: { field: 'argv', rule: 'exec_argv_program' },
      });
    }
    const record = await this.requireRecord(id);
    if ((await this.agents.runningIdentity(id)) === null) throw instanceNotRunning(this.kind, id);
    const entries = await sandboxRootEntries(path.join(this.records.sandboxDir(id), 'current'), id);
    return runStreaming(sandboxExecArgv({ program: 'bwrap', entries, hostname: record.spec.hostname, argv }), options);
  }

  /** Stops supervising; agents keep running for the next provisioner to adopt. */
  async close(): Promise<void> {
    this.agents.close();
    await this.instanceLock.idle();
  }

  /** The pid of the agent running for an instance, or null (for operators and tests). */
  async agentPid(instanceId: string): Promise<number | null> {
    return (await this.agents.runningIdentity(parseInstanceId(instanceId)))?.pid ?? null;
  }

  /** Where an instance's files live. */
  instanceDir(instanceId: string): string {
    return this.records.instanceDir(instanceId);
  }

  private handle(id: string): InstanceHandle {
    return { instance_id: id, driver: this.kind, location: this.instanceDir(id) };
  }

  /** One operation at a time per instance, in call order. */
  private serialize<T>(id: string, operation: () => Promise<T>): Promise<T> {
    return this.instanceLock.run(id, operation);
  }

  private async requireRecord(id: string): Promise<InstanceRecord> {
    const record = await this.records.read(id);
    if (record === null) throw instanceNotCreated(this.kind, id);
    return record;
  }
}
