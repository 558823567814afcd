import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileAtomically } from './durable-file.js';
import { processStillRuns, type ProcessStart } from './process-identity.js';

/*
 * `<sandbox>/machine.json`: what is known about an instance's running machine. The keeper that boots the
 * machine (apps/agent, nspawn-machine.ts) writes it; the keeper after a restart adopts the machine from it,
 * and the provisioner reads it to exec into the machine and to make sure nothing of it is left on destroy.
 *
 * The machine is two processes worth recording: systemd-nspawn, and the machine's PID 1 (systemd, nspawn's
 * child) once it runs. PID 1 survives a SIGKILLed nspawn, with its services, network namespace and veth, so
 * it is what a power-off must end when nspawn is already gone. Both are recorded with their start times:
 * pids are reused (process-identity.ts).
 */

/** The machine's link to the host: a veth pair with a /30 of its own. */
export interface MachineLink {
  /** Host-side interface name (at most 15 characters). */
  host_interface: string;
  /** The host end, the machine's default route. */
  host_address: string;
  /** The machine's address, reachable from the host. */
  address: string;
  prefix_length: number;
}

/** What is persisted about a running machine. */
export interface MachineRecord extends ProcessStart {
  /** The composed root (relative to the sandbox) the machine booted. */
  root_dir: string;
  booted_at: string;
  /** The machine's link to the host (absent for records written before machines had one). */
  network?: MachineLink;
  /** The machine's PID 1 once it ran, with its start time. */
  leader?: ProcessStart;
}

export const MACHINE_RECORD_FILE = 'machine.json';

/** Where an instance's machine record lives. */
export function machineRecordPath(sandboxDir: string): string {
  return path.join(sandboxDir, MACHINE_RECORD_FILE);
}

function isProcessStart(value: unknown): value is ProcessStart {
  const candidate = value as Partial<ProcessStart> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    Number.isSafeInteger(candidate.pid) &&
    candidate.pid! > 0 &&
    typeof candidate.start_ticks === 'string'
  );
}

function isMachineLink(value: unknown): value is MachineLink {
  const candidate = value as Partial<MachineLink> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.host_interface === 'string' &&
    typeof candidate.host_address === 'string' &&
    typeof candidate.address === 'string' &&
    Number.isInteger(candidate.prefix_length)
  );
}

/**
 * Reads a machine record from the text of machine.json; null when it is not one (not JSON, or a field missing
 * or of the wrong type). Such a file names no process that can be vouched for, so it counts as no record.
 */
export function parseMachineRecord(text: string): MachineRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isProcessStart(value)) return null;
  const record = value as Partial<MachineRecord> & ProcessStart;
  if (typeof record.root_dir !== 'string' || typeof record.booted_at !== 'string') return null;
  if (record.network !== undefined && !isMachineLink(record.network)) return null;
  if (record.leader !== undefined && !isProcessStart(record.leader)) return null;
  return record as MachineRecord;
}

/** Reads machine.json, whether or not its machine still runs; null when there is none or it is unreadable. */
export async function readMachineRecord(sandboxDir: string): Promise<MachineRecord | null> {
  const text = await readFile(machineRecordPath(sandboxDir), 'utf8').catch(() => null);
  return text === null ? null : parseMachineRecord(text);
}

/** Writes machine.json atomically (mode 0600). */
export async function writeMachineRecord(sandboxDir: string, record: MachineRecord): Promise<void> {
  await writeFileAtomically(machineRecordPath(sandboxDir), JSON.stringify(record, null, 2), 0o600);
}

/** True while the nspawn process the record names is still that process. */
export async function machineRuns(record: MachineRecord | null): Promise<boolean> {
  return record !== null && (await processStillRuns(record));
}

/**
 * The machine's PID 1 (systemd), seen from the host: the child of the nspawn process once it runs systemd.
 * Right after the start that child is still nspawn's own helper, so the command name is checked.
 */
export async function machineLeaderOf(nspawnPid: number): Promise<number | null> {
  const children = await readFile(`/proc/${nspawnPid}/task/${nspawnPid}/children`, 'utf8').catch(() => '');
  for (const child of children
    .trim()
    .split(/\s+/)
    .filter((pid) => pid !== '')) {
    const name = (await readFile(`/proc/${child}/comm`, 'utf8').catch(() => '')).trim();
    if (name === 'systemd') return Number(child);
  }
  return null;
}

/**
 * Kills the machine's PID 1 when it outlived its nspawn process (which a SIGKILL leaves behind) and waits
 * (up to 5 s) until it is gone. Killing PID 1 ends its whole pid namespace. A leader that is not the recorded
 * process any more (its pid reused) is left alone.
 */
export async function killOrphanedLeader(record: MachineRecord): Promise<void> {
  const leader = record.leader;
  if (!(await processStillRuns(leader))) return;
  try {
    process.kill(leader!.pid, 'SIGKILL');
  } catch {
    return; // gone meanwhile
  }
  for (let i = 0; i < 100 && (await processStillRuns(leader)); i++) await sleep(50);
}
