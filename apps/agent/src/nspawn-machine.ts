import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PowernodeError, type MachineSubnet } from '@powernode/contracts';
import {
  killOrphanedLeader,
  machineLeaderOf,
  machineRecordPath,
  machineRuns,
  processStartTicks,
  readMachineRecord,
  writeMachineRecord,
  type MachineRecord,
} from '@powernode/host-machine';
import { runHostCommand, unmount } from './host-commands.js';
import { claimMachineNetwork, configureMachineNetwork, nspawnNetworkOption, type MachineNetwork } from './machine-network.js';
import { readStack, stackLowers } from './stacked-root.js';

/*
 * The instance as a booted machine: systemd-nspawn runs systemd as PID 1 on an overlay whose lower layer is
 * the verified composed root (read-only, never written) and whose upper is the instance's own writable state,
 * kept across upgrades and reboots. Layout under the sandbox:
 *
 *   machine/upper, machine/work   the instance's writes (overlay upper and its work dir)
 *   machine/root                  the overlay mount nspawn boots
 *   machine/console.log           what the machine printed (boot log)
 *   machine.json                  the running nspawn: pid, its start time, the root it booted
 *                                 (its format and checks: @powernode/host-machine, machine-record.ts)
 *
 * The machine has its own network namespace, joined to the host by a veth pair with a /30 of its own
 * (machine-network.ts): the host reaches it at its address, it reaches the host at the other end.
 *
 * nspawn runs in its own session, so the machine outlives an agent restart; a new agent adopts it from
 * machine.json. This host has no D-Bus system bus and no systemd as PID 1, hence `--register=no --keep-unit`.
 */

/** Where one instance's machine lives and how it is named. */
export interface MachinePaths {
  sandboxDir: string;
  machineName: string;
  hostname: string;
  /** Where the machine's /30 is claimed; without it the machine gets a private network with loopback only. */
  network?: { claimsDir: string; instanceId: string; subnet: MachineSubnet };
}

const BOOT_TIMEOUT_MS = 60_000;

/** A host path bound into the machine. */
export interface MachineBind {
  host: string;
  inside: string;
  readOnly: boolean;
}

/** What a boot adds to the machine beyond its root. */
export interface BootOptions {
  binds?: readonly MachineBind[];
  /** Runs once the machine's network is claimed, right before nspawn starts (what the machine reads at boot is written here). */
  beforeSpawn?: (network: MachineNetwork | null) => Promise<void>;
}

/** nspawn's machine name for an instance: at most 64 characters of letters, digits and `-`. */
export function machineNameOf(instanceId: string): string {
  return `pn-${instanceId.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 64).replace(/-+$/, '');
}
const POWEROFF_GRACE_MS = 15_000;

function machineDir(sandboxDir: string): string {
  return path.join(sandboxDir, 'machine');
}

/** The overlay mount point the machine boots from. */
export function machineRootMount(sandboxDir: string): string {
  return path.join(machineDir(sandboxDir), 'root');
}

/**
 * Ends what a machine leaves when its nspawn process dies without halting it (SIGKILL): its PID 1 keeps
 * running, with its services, network namespace and veth. Killing PID 1 ends its whole pid namespace; the
 * veth goes with the network namespace, which the kernel tears down asynchronously, so it is waited for
 * (and deleted if it lingers) before the name can be used again.
 */
async function endOrphanedMachine(record: MachineRecord): Promise<void> {
  await killOrphanedLeader(record);
  if (record.network === undefined) return;
  const linkExists = async () => (await runHostCommand(['ip', 'link', 'show', 'dev', record.network!.host_interface], 5_000)).code === 0;
  for (let i = 0; i < 50 && (await linkExists()); i++) await sleep(100);
  if (await linkExists()) await runHostCommand(['ip', 'link', 'delete', 'dev', record.network.host_interface], 5_000);
}

/** Controls one instance's machine. Not safe for concurrent use: the agent serialises calls. */
export class NspawnMachine {
  private leader: number | null = null;
  private link: MachineNetwork | null = null;

  constructor(private readonly paths: MachinePaths) {}

  /** The machine's PID 1 on the host, once it runs. */
  leaderPid(): number | null {
    return this.leader;
  }

  /** The machine's link to the host while it runs (null without one). */
  network(): MachineNetwork | null {
    return this.leader === null ? null : this.link;
  }

  /** Re-attaches to a machine still running on `rootDir` (after an agent restart); false when there is none to adopt. */
  async adopt(rootDir: string): Promise<boolean> {
    const record = await readMachineRecord(this.paths.sandboxDir);
    if (record === null || record.root_dir !== rootDir || !(await machineRuns(record))) return false;
    this.leader = await machineLeaderOf(record.pid);
    this.link = record.network ?? null;
    return this.leader !== null;
  }

  /** True while the machine's nspawn process runs. */
  async running(): Promise<boolean> {
    return machineRuns(await readMachineRecord(this.paths.sandboxDir));
  }

  /**
   * Boots systemd on an overlay of `rootDir` (relative to the sandbox) and the instance's upper, and waits
   * until systemd says the boot finished (`running` or `degraded`). A machine already running is powered off
   * first. `machine_failed` when nspawn exits or the boot does not finish in time; the mount is undone then.
   */
  async boot(rootDir: string, options: BootOptions = {}): Promise<void> {
    await this.powerOff();
    const dir = machineDir(this.paths.sandboxDir);
    const upper = path.join(dir, 'upper');
    const work = path.join(dir, 'work');
    const mountPoint = machineRootMount(this.paths.sandboxDir);
    await mkdir(upper, { recursive: true, mode: 0o755 });
    await mkdir(work, { recursive: true, mode: 0o700 });
    await mkdir(mountPoint, { recursive: true, mode: 0o755 });
    // A work dir left by a killed overlay refuses a new mount until it is emptied.
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { mode: 0o700 });
    const lower = path.join(this.paths.sandboxDir, rootDir);
    const stack = await readStack(lower);
    const lowers = stack === null ? [lower] : stackLowers(lower, stack);
    const mounted = await runHostCommand(
      ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}`, mountPoint],
      30_000,
    );
    if (mounted.code !== 0) {
      throw new PowernodeError(
        'machine_failed',
        `cannot mount the instance root (overlay of ${lower}): ${mounted.stderr.trim()}; the agent needs root and a kernel with overlayfs`,
        {
          retryable: true,
          details: { rule: 'machine_overlay', root_dir: rootDir },
        },
      );
    }
    let network: MachineNetwork | null = null;
    try {
      if (this.paths.network !== undefined)
        network = await claimMachineNetwork(
          this.paths.network.claimsDir,
          { instanceId: this.paths.network.instanceId, sandboxDir: this.paths.sandboxDir },
          this.paths.network.subnet,
        );
    } catch (error) {
      await unmount(mountPoint);
      throw error;
    }
    try {
      await options.beforeSpawn?.(network);
    } catch (error) {
      await unmount(mountPoint);
      throw error;
    }
    const console = await open(path.join(dir, 'console.log'), 'a', 0o600);
    let child;
    try {
      child = spawn(
        'systemd-nspawn',
        [
          '-D',
          mountPoint,
          '-b',
          '--register=no',
          '--keep-unit',
          network === null ? '--private-network' : nspawnNetworkOption(network),
          `--machine=${this.paths.machineName}`,
          `--hostname=${this.paths.hostname}`,
          '--console=pipe',
          ...(options.binds ?? []).map((bind) => `${bind.readOnly ? '--bind-ro' : '--bind'}=${bind.host}:${bind.inside}`),
        ],
        { detached: true, stdio: ['ignore', console.fd, console.fd], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } },
      );
      await new Promise<void>((resolve, reject) => {
        child!.once('spawn', resolve);
        child!.once('error', reject);
      });
    } catch (cause) {
      await unmount(mountPoint);
      throw new PowernodeError('machine_failed', `cannot start systemd-nspawn (${(cause as Error).message}); install systemd-container`, {
        cause,
        retryable: true,
        details: { rule: 'machine_spawn' },
      });
    } finally {
      await console.close();
    }
    child.unref();
    const pid = child.pid!;
    const ticks = (await processStartTicks(pid)) ?? '';
    const record: MachineRecord = { pid, start_ticks: ticks, root_dir: rootDir, booted_at: new Date().toISOString(), ...(network === null ? {} : { network }) };
    await writeMachineRecord(this.paths.sandboxDir, record);
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    let linked = network === null;
    while (Date.now() < deadline) {
      if ((await processStartTicks(pid)) !== ticks) break;
      this.leader = await machineLeaderOf(pid);
      if (this.leader !== null && record.leader === undefined) {
        record.leader = { pid: this.leader, start_ticks: (await processStartTicks(this.leader)) ?? '' };
        await writeMachineRecord(this.paths.sandboxDir, record);
      }
      if (this.leader !== null && !linked) {
        // Addressed while systemd starts, so services find their address when they bind.
        try {
          await configureMachineNetwork(this.leader, network!);
        } catch (error) {
          await this.powerOff();
          throw error;
        }
        this.link = network;
        linked = true;
      }
      if (this.leader !== null) {
        const state = await this.exec(['systemctl', 'is-system-running'], 10_000);
        const text = state.stdout.trim();
        if (text === 'running' || text === 'degraded') return;
      }
      await sleep(100);
    }
    const log = await readFile(path.join(dir, 'console.log'), 'utf8').catch(() => '');
    await this.powerOff();
    throw new PowernodeError(
      'machine_failed',
      `the machine did not finish booting within ${BOOT_TIMEOUT_MS / 1000} s; last console lines: ${log.trim().split('\n').slice(-3).join(' | ')}`,
      {
        retryable: true,
        details: { rule: 'machine_boot', root_dir: rootDir },
      },
    );
  }

  /** Runs argv inside the machine (all its namespaces, its root) with a minimal environment; never through a shell. */
  async exec(argv: readonly string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
    if (this.leader === null) return { code: null, stdout: '', stderr: 'the machine is not running' };
    return runHostCommand(this.execArgv(argv), timeoutMs);
  }

  /** The host argv that runs `argv` inside the machine. */
  execArgv(argv: readonly string[]): string[] {
    if (this.leader === null)
      throw new PowernodeError('machine_failed', 'the machine is not running', { retryable: true, details: { rule: 'machine_running' } });
    return ['nsenter', '-t', String(this.leader), '-a', '--', ...argv];
  }

  /**
   * Shuts the machine down cleanly (SIGTERM makes nspawn halt the container), kills it after the grace
   * period, then unmounts its root. Nothing of the machine runs afterwards. A machine not running is a no-op
   * apart from removing a stale mount.
   */
  async powerOff(graceMs: number = POWEROFF_GRACE_MS): Promise<void> {
    const record = await readMachineRecord(this.paths.sandboxDir);
    if (record !== null && (await machineRuns(record))) {
      process.kill(record.pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && (await machineRuns(record))) await sleep(50);
      if (await machineRuns(record)) {
        // nspawn's own group holds the container: kill all of it.
        try {
          process.kill(-record.pid, 'SIGKILL');
        } catch {
          process.kill(record.pid, 'SIGKILL');
        }
        for (let i = 0; i < 100 && (await machineRuns(record)); i++) await sleep(50);
      }
    }
    if (record !== null) await endOrphanedMachine(record);
    this.leader = null;
    this.link = null;
    await unmount(machineRootMount(this.paths.sandboxDir));
    await rm(machineRecordPath(this.paths.sandboxDir), { force: true });
  }
}
