import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PowernodeError, type InstanceExecEnd } from '@powernode/contracts';
import { killOrphanedLeader, machineLeaderOf, machineRecordPath, machineRuns, readMachineRecord, type MachineRecord } from '@powernode/host-machine';
import {
  instanceNotRunning,
  parseInstanceId,
  type AdoptOutcome,
  type DriverInstanceStatus,
  type ExecOptions,
  type HypervisorDriver,
  type InstanceHandle,
  type InstanceSpec,
} from './hypervisor-driver.js';
import { LocalDriver, type LocalDriverOptions } from './local-driver.js';
import { runStreaming } from './local-exec.js';

/*
 * The `nspawn` driver: every instance is a machine. systemd-nspawn boots systemd as PID 1 on an overlay of
 * the verified composed root (read-only, shared by nothing but the instance's generations) and the instance's
 * own writable upper; module services are real systemd units inside it. The process this driver starts per
 * instance is the machine's keeper (the agent program with POWERNODE_AGENT_MACHINE=nspawn): it composes each
 * generation's root, boots the machine on it and boots it again when it is killed; the instance's agent runs
 * inside the machine as a systemd unit and does the rest (apps/agent/README.md). This driver supervises the
 * keeper exactly as the local driver supervises an agent, and adds what only the host can do: `exec` into the
 * machine's namespaces and, on destroy, making sure nothing of the machine is left — no process, no mount,
 * no upper dir.
 *
 * The machine layout the keeper keeps under `<sandbox>/` (see apps/agent/src/nspawn-machine.ts): machine.json
 * (the nspawn pid and its start time, read through @powernode/host-machine), machine/root (the overlay mount), machine/upper, machine/work, and
 * link/ (bound into the machine at /run/powernode).
 */

/**
 * Every machine's systemd takes several inotify instances; the kernel's default of 128 per user runs out near
 * 16 machines, after which new machines hang in boot ("Failed to create inotify object: Too many open files").
 */
const INOTIFY_INSTANCES = 8192;
const INOTIFY_INSTANCES_FILE = '/proc/sys/fs/inotify/max_user_instances';

/** Raises the host's inotify instance limit for many machines; returns the limit before, or null when unchanged. */
export async function raiseInotifyLimit(file: string = INOTIFY_INSTANCES_FILE, wanted: number = INOTIFY_INSTANCES): Promise<number | null> {
  const current = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  if (!Number.isFinite(current) || current >= wanted) return null;
  await writeFile(file, `${wanted}\n`).catch(() => undefined);
  return current;
}

/** The keeper's stop grace: the machine's clean halt, in which its agent runs init.stop of every module and sends its last heartbeat. */
const NSPAWN_STOP_GRACE_MS = 30_000;
/** Extra time past the in-machine `timeout` before the host side gives up on a command. */
const EXEC_BACKSTOP_MS = 5_000;

/** True when systemd-nspawn can run here: it is installed and this process is root (it mounts and unshares). */
export async function nspawnUsable(): Promise<{ usable: boolean; reason: string }> {
  if (process.getuid?.() !== 0) return { usable: false, reason: 'systemd-nspawn needs root' };
  const outcome = await new Promise<number | null>((resolve) => {
    const child = spawn('systemd-nspawn', ['--version'], { stdio: 'ignore' });
    child.once('error', () => resolve(null));
    child.once('close', (code) => resolve(code));
  });
  return outcome === 0
    ? { usable: true, reason: 'systemd-nspawn runs as root' }
    : { usable: false, reason: 'systemd-nspawn is not installed (apt-get install systemd-container)' };
}

async function mounted(mountPoint: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return mounts.split('\n').some((line) => line.split(' ')[4] === mountPoint);
}

async function runQuietly(argv: readonly string[]): Promise<number | null> {
  const [program, ...args] = argv as [string, ...string[]];
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: 'ignore' });
    child.once('error', () => resolve(null));
    child.once('close', (code) => resolve(code));
  });
}

/** Runs instances as systemd-nspawn machines booted by their agents. */
export class NspawnDriver implements HypervisorDriver {
  readonly kind = 'nspawn';
  private readonly local: LocalDriver;

  constructor(options: LocalDriverOptions) {
    this.local = new LocalDriver({
      stopGraceMs: NSPAWN_STOP_GRACE_MS,
      ...options,
      agentEnvironment: { ...options.agentEnvironment, POWERNODE_AGENT_MACHINE: 'nspawn' },
    });
  }

  async create(spec: InstanceSpec): Promise<InstanceHandle> {
    return { ...(await this.local.create(spec)), driver: this.kind };
  }

  async start(instanceId: string): Promise<void> {
    await raiseInotifyLimit();
    return this.local.start(instanceId);
  }

  /** Stops the agent, which powers the machine off; anything it could not stop is killed. */
  async stop(instanceId: string): Promise<void> {
    await this.local.stop(instanceId);
    await this.removeMachine(instanceId);
  }

  /** Powers the machine off, then removes the instance with its upper dir: no process and no mount is left. */
  async destroy(instanceId: string): Promise<void> {
    const id = parseInstanceId(instanceId);
    await this.local.stop(id).catch(() => undefined);
    await this.removeMachine(id);
    await this.local.destroy(id);
  }

  status(instanceId: string): Promise<DriverInstanceStatus> {
    return this.local.status(instanceId);
  }

  list(): Promise<string[]> {
    return this.local.list();
  }

  async adopt(instanceId: string): Promise<AdoptOutcome> {
    await raiseInotifyLimit();
    return this.local.adopt(instanceId);
  }

  close(): Promise<void> {
    return this.local.close();
  }

  /** The pid of the instance's agent, or null. */
  agentPid(instanceId: string): Promise<number | null> {
    return this.local.agentPid(instanceId);
  }

  /** The pid of the instance's systemd-nspawn process, or null when the machine does not run. */
  async machinePid(instanceId: string): Promise<number | null> {
    const record = await this.machineRecord(parseInstanceId(instanceId));
    return record === null ? null : record.pid;
  }

  /**
   * Runs argv inside the machine: every namespace of its PID 1 (so its root, its network, its services), under
   * `timeout` so a command that outlives its budget is killed inside the machine too.
   */
  async exec(instanceId: string, argv: readonly string[], options: ExecOptions): Promise<InstanceExecEnd> {
    const id = parseInstanceId(instanceId);
    if (argv.length === 0 || argv[0] === '') {
      throw new PowernodeError('validation_failed', 'exec needs an argv naming at least the program', {
        details: { field: 'argv', rule: 'exec_argv_program' },
      });
    }
    if ((await this.local.status(id)) !== 'running') throw instanceNotRunning(this.kind, id);
    const record = await this.machineRecord(id);
    const leader = record === null ? null : await machineLeaderOf(record.pid);
    if (leader === null) {
      throw new PowernodeError(
        'instance_not_running',
        `instance ${id} has no booted machine yet (it is being composed or rebooted): try again in a few seconds`,
        {
          retryable: true,
          details: { driver: this.kind, instance_id: id, rule: 'machine_booted' },
        },
      );
    }
    const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
    const inside = ['timeout', '--kill-after=2', `${seconds}s`, ...argv];
    return runStreaming(['nsenter', '-t', String(leader), '-a', '--', ...inside], { ...options, timeoutMs: options.timeoutMs + EXEC_BACKSTOP_MS });
  }

  private sandboxOf(id: string): string {
    return path.join(this.local.instanceDir(id), 'sandbox');
  }

  /** The record of a machine whose nspawn process still runs. */
  private async machineRecord(id: string): Promise<MachineRecord | null> {
    const record = await readMachineRecord(this.sandboxOf(id));
    return (await machineRuns(record)) ? record : null;
  }

  /** Kills a machine its agent left running and undoes its mount. */
  private async removeMachine(id: string): Promise<void> {
    const left = await readMachineRecord(this.sandboxOf(id));
    if (left !== null) await killOrphanedLeader(left);
    const record = await this.machineRecord(id);
    if (record !== null) {
      for (const target of [-record.pid, record.pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // already gone, or not a group leader
        }
      }
      for (let i = 0; i < 100 && (await this.machineRecord(id)) !== null; i++) await sleep(50);
    }
    const mountPoint = path.join(this.sandboxOf(id), 'machine', 'root');
    for (let attempt = 0; attempt < 20 && (await mounted(mountPoint)); attempt++) {
      if ((await runQuietly(['umount', mountPoint])) !== 0) await sleep(100);
    }
    if (await mounted(mountPoint)) await runQuietly(['umount', '--lazy', mountPoint]);
    await rm(machineRecordPath(this.sandboxOf(id)), { force: true });
  }
}
