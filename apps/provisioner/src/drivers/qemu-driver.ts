import { spawn } from 'node:child_process';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { PowernodeError, type InstanceExecEnd } from '@powernode/contracts';
import { kvmUsable, machineRecordPath, machineRuns, readMachineRecord } from '@powernode/host-machine';
import {
  EXEC_TIMEOUT_EXIT_CODE,
  instanceNotCreated,
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

/*
 * The `qemu` driver: every instance is a virtual machine booting a Debian kernel and systemd on the instance's
 * verified layers (apps/agent/src/qemu-machine.ts). As on nspawn, the process this driver starts per instance
 * is the machine's keeper (the agent program, POWERNODE_AGENT_MACHINE=qemu): it enrols, pulls and verifies
 * layers, composes the root, packs its images, boots QEMU and boots it again when QEMU dies; the instance's
 * agent runs inside the VM. The driver supervises the keeper as the local driver supervises an agent and adds
 * what only the host does: `exec` through the VM's exec channel (a hostfwd on the host's loopback, with the
 * token the keeper left in the link), its serial console, and making sure no QEMU is left on stop and destroy.
 *
 * KVM when a KVM guest really starts here (`kvmUsable`), else TCG.
 */

/** The keeper's stop grace: the guest's clean power-off, in which its agent runs init.stop and sends its last heartbeat. */
const QEMU_STOP_GRACE_MS = 45_000;
/** Past the guest-side timeout before the host gives up on a command. */
const EXEC_BACKSTOP_MS = 5_000;
const CONSOLE_FILE = path.join('machine', 'console.log');
const EXEC_CHANNEL_FILE = path.join('machine', 'exec.json');
const EXEC_TOKEN_FILE = path.join('link', 'exec.token');

/** True (with why) when QEMU can boot instances here, and whether they get KVM. */
export async function qemuUsable(): Promise<{ usable: boolean; kvm: boolean; reason: string }> {
  if (process.getuid?.() !== 0) return { usable: false, kvm: false, reason: 'the qemu driver needs root (it builds images and mounts nothing else)' };
  const outcome = await new Promise<number | null>((resolve) => {
    const child = spawn('qemu-system-x86_64', ['--version'], { stdio: 'ignore' });
    child.once('error', () => resolve(null));
    child.once('close', (code) => resolve(code));
  });
  if (outcome !== 0) return { usable: false, kvm: false, reason: 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)' };
  const kvm = await kvmUsable();
  return { usable: true, kvm: kvm.usable, reason: kvm.usable ? 'QEMU with KVM' : `QEMU with TCG only: ${kvm.reason}` };
}

/** What `console` answers: the tail of the serial console and where the next read continues. */
export interface ConsoleChunk {
  text: string;
  /** Byte offset just past `text`: pass it as `from` to read what came after. */
  next_offset: number;
  /** The log's size when read. */
  size: number;
}

/** Runs instances as QEMU virtual machines booted by their keepers. */
export class QemuDriver implements HypervisorDriver {
  readonly kind = 'qemu';
  private readonly local: LocalDriver;

  constructor(options: LocalDriverOptions & { defaults?: { memoryMb?: number; vcpus?: number } }) {
    const defaults: Record<string, string> = {};
    if (options.defaults?.memoryMb !== undefined) defaults['POWERNODE_QEMU_MEMORY_MB'] = String(options.defaults.memoryMb);
    if (options.defaults?.vcpus !== undefined) defaults['POWERNODE_QEMU_VCPUS'] = String(options.defaults.vcpus);
    this.local = new LocalDriver({
      stopGraceMs: QEMU_STOP_GRACE_MS,
      ...options,
      agentEnvironment: { ...defaults, ...options.agentEnvironment, POWERNODE_AGENT_MACHINE: 'qemu' },
    });
  }

  async create(spec: InstanceSpec): Promise<InstanceHandle> {
    return { ...(await this.local.create(spec)), driver: this.kind };
  }

  start(instanceId: string): Promise<void> {
    return this.local.start(instanceId);
  }

  /** Stops the keeper, which powers the VM off; a QEMU it could not stop is killed. */
  async stop(instanceId: string): Promise<void> {
    await this.local.stop(instanceId);
    await this.removeMachine(parseInstanceId(instanceId));
  }

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

  adopt(instanceId: string): Promise<AdoptOutcome> {
    return this.local.adopt(instanceId);
  }

  close(): Promise<void> {
    return this.local.close();
  }

  agentPid(instanceId: string): Promise<number | null> {
    return this.local.agentPid(instanceId);
  }

  /** Where the instance's records and sandbox live. */
  instanceDir(instanceId: string): string {
    return this.local.instanceDir(instanceId);
  }

  /** The pid of the instance's QEMU process, or null when the VM does not run. */
  async machinePid(instanceId: string): Promise<number | null> {
    const record = await readMachineRecord(this.sandboxOf(parseInstanceId(instanceId)));
    return (await machineRuns(record)) ? record!.pid : null;
  }

  /**
   * The serial console of the instance's VM (every boot, appended): from byte `from`, or its last
   * `tailBytes` bytes when `from` is not given. `not_found` when the driver does not hold the instance.
   */
  async console(instanceId: string, options: { from?: number; tailBytes?: number } = {}): Promise<ConsoleChunk> {
    const id = parseInstanceId(instanceId);
    if ((await this.local.status(id)) === 'absent') {
      throw new PowernodeError('not_found', `the qemu driver holds no instance ${id}`, {
        details: { driver: this.kind, instance_id: id, rule: 'driver_instance_must_exist' },
      });
    }
    const file = path.join(this.sandboxOf(id), CONSOLE_FILE);
    const size = await stat(file).then(
      (s) => s.size,
      () => 0,
    );
    const tail = Math.max(0, Math.min(options.tailBytes ?? 64 * 1024, 1024 * 1024));
    const start = options.from === undefined ? Math.max(0, size - tail) : Math.min(Math.max(0, options.from), size);
    const length = Math.min(size - start, 1024 * 1024);
    if (length <= 0) return { text: '', next_offset: start, size };
    const handle = await open(file, 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, start);
      return { text: buffer.subarray(0, bytesRead).toString('utf8'), next_offset: start + bytesRead, size };
    } finally {
      await handle.close();
    }
  }

  /**
   * Runs argv in the VM through its exec channel: the guest runs it (no shell) under `timeout_ms` and streams
   * its output back; closing the connection (abort, host-side backstop) kills it in the guest.
   */
  async exec(instanceId: string, argv: readonly string[], options: ExecOptions): Promise<InstanceExecEnd> {
    const id = parseInstanceId(instanceId);
    if (argv.length === 0 || argv[0] === '') {
      throw new PowernodeError('validation_failed', 'exec needs an argv naming at least the program', {
        details: { field: 'argv', rule: 'exec_argv_program' },
      });
    }
    const status = await this.local.status(id);
    if (status === 'absent') throw instanceNotCreated(this.kind, id);
    if (status !== 'running') throw instanceNotRunning(this.kind, id);
    const channel = await this.execChannel(id);
    if (channel === null) {
      throw new PowernodeError('instance_not_running', `instance ${id} has no booted VM yet (it is being composed or booted): try again in a few seconds`, {
        retryable: true,
        details: { driver: this.kind, instance_id: id, rule: 'machine_booted' },
      });
    }
    return streamExec(channel, argv, options);
  }

  private sandboxOf(id: string): string {
    return path.join(this.local.instanceDir(id), 'sandbox');
  }

  private async execChannel(id: string): Promise<{ port: number; token: string } | null> {
    const sandbox = this.sandboxOf(id);
    if (!(await machineRuns(await readMachineRecord(sandbox)))) return null;
    try {
      const { port } = JSON.parse(await readFile(path.join(sandbox, EXEC_CHANNEL_FILE), 'utf8')) as { port: number };
      const token = (await readFile(path.join(sandbox, EXEC_TOKEN_FILE), 'utf8')).trim();
      return Number.isInteger(port) && token !== '' ? { port, token } : null;
    } catch {
      return null;
    }
  }

  /** Kills a QEMU its keeper left running. */
  private async removeMachine(id: string): Promise<void> {
    const sandbox = this.sandboxOf(id);
    const record = await readMachineRecord(sandbox);
    if (record !== null && (await machineRuns(record))) {
      for (const target of [-record.pid, record.pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // already gone, or not a group leader
        }
      }
      for (let i = 0; i < 100 && (await machineRuns(record)); i++) await sleep(50);
    }
    await rm(machineRecordPath(sandbox), { force: true });
  }
}

/** The exec channel's client: frames of output handed on as they come, the end as the guest reports it. */
export function streamExec(channel: { port: number; token: string }, argv: readonly string[], options: ExecOptions): Promise<InstanceExecEnd> {
  const started = performance.now();
  const killedExit = 128 + (osConstants.signals.SIGKILL ?? 9);
  if (options.signal?.aborted) return Promise.resolve({ exit_code: killedExit, timed_out: false, duration_ms: 0 });
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify({ argv, timeout_ms: options.timeoutMs }));
    let settled = false;
    let backstopFired = false;
    const finish = (end: Omit<InstanceExecEnd, 'duration_ms'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(backstop);
      options.signal?.removeEventListener('abort', abandon);
      resolve({ ...end, duration_ms: Math.round(performance.now() - started) });
    };
    const req = request({
      host: '127.0.0.1',
      port: channel.port,
      path: '/exec',
      method: 'POST',
      headers: { authorization: `Bearer ${channel.token}`, 'content-type': 'application/json', 'content-length': String(data.length) },
    });
    const backstop = setTimeout(() => {
      backstopFired = true;
      req.destroy();
      finish({ exit_code: EXEC_TIMEOUT_EXIT_CODE, timed_out: true });
    }, options.timeoutMs + EXEC_BACKSTOP_MS);
    const abandon = (): void => {
      req.destroy();
      finish({ exit_code: killedExit, timed_out: false });
    };
    options.signal?.addEventListener('abort', abandon, { once: true });
    req.once('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        settled = true;
        clearTimeout(backstop);
        reject(
          new PowernodeError('instance_not_running', `the VM's exec channel answered HTTP ${res.statusCode}: the VM is booting again; try again`, {
            retryable: true,
            details: { rule: 'machine_exec_channel' },
          }),
        );
        return;
      }
      options.onStart?.();
      let buffered = '';
      res.setEncoding('utf8').on('data', (text: string) => {
        buffered += text;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          const frame = JSON.parse(line) as { stream?: 'stdout' | 'stderr'; data?: string; exit_code?: number; timed_out?: boolean };
          if (frame.stream !== undefined) options.onOutput(frame.stream, Buffer.from(frame.data ?? '', 'base64'));
          else if (frame.exit_code !== undefined) finish({ exit_code: frame.exit_code, timed_out: frame.timed_out === true });
        }
      });
      res.once('end', () => finish({ exit_code: killedExit, timed_out: false }));
      res.once('error', () => finish({ exit_code: killedExit, timed_out: false }));
    });
    req.once('error', (error) => {
      if (settled || backstopFired) return;
      settled = true;
      clearTimeout(backstop);
      reject(
        new PowernodeError('instance_not_running', `cannot reach the VM's exec channel: ${error.message}; the VM is booting again; try again`, {
          retryable: true,
          details: { rule: 'machine_exec_channel' },
        }),
      );
    });
    req.end(data);
  });
}
