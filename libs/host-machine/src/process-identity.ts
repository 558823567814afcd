import { readdir, readFile } from 'node:fs/promises';

/*
 * A process is identified by more than its pid: pids are reused. Linux gives every process a start time (in
 * clock ticks since boot, field 22 of /proc/<pid>/stat) and every boot an id, so (boot id, pid, start time)
 * names exactly one process ever. Whoever records a process records that triple (or at least pid and start
 * time) and signals a pid only while it still matches, so a restart after a reboot or a pid wrap never
 * adopts, or kills, somebody else's process.
 */

/** A process as it was when it was recorded: its pid and its start time. */
export interface ProcessStart {
  pid: number;
  /** Start time in clock ticks since boot, as a decimal string (it can exceed 2^53 on long uptimes). */
  start_ticks: string;
}

export interface ProcessIdentity extends ProcessStart {
  boot_id: string;
}

let cachedBootId: string | null = null;

/** This boot's id (`/proc/sys/kernel/random/boot_id`). */
export async function currentBootId(): Promise<string> {
  cachedBootId ??= (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  return cachedBootId;
}

/** What /proc/<pid>/stat says about a process that matters here. */
export interface ProcStat {
  /** Field 3: R, S, D, Z (zombie), X (dead)… */
  state: string;
  /** Field 22. */
  start_ticks: string;
}

/** Reads state and start time from the text of /proc/<pid>/stat; null when the text is not such a line. */
export function parseProcStat(text: string): ProcStat | null {
  // The command name (field 2) is in parentheses and may itself contain spaces or parentheses: fields are
  // counted after its last closing one.
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const fields = text.slice(close + 2).split(' ');
  const state = fields[0];
  const startTicks = fields[19]?.trim();
  if (state === undefined || state === '' || startTicks === undefined || !/^\d+$/.test(startTicks)) return null;
  return { state, start_ticks: startTicks };
}

/** State and start time of a pid from /proc/<pid>/stat, or null when there is no such process. */
async function readProcStat(pid: number): Promise<ProcStat | null> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ESRCH') return null;
    throw error;
  }
  return parseProcStat(text);
}

/** A zombie has exited; only its parent has not collected it yet. */
function isGone(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

/** The start time of a live process, or null when there is none with that pid (or it has already exited). */
export async function processStartTicks(pid: number): Promise<string | null> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  const stat = await readProcStat(pid);
  return stat === null || isGone(stat.state) ? null : stat.start_ticks;
}

/** True while `recorded` is still the same process: alive and started when it was recorded (not a later one that reused its pid). */
export async function processStillRuns(recorded: ProcessStart | undefined): Promise<boolean> {
  return recorded !== undefined && (await processStartTicks(recorded.pid)) === recorded.start_ticks;
}

/** The identity of a live process, or null when it does not exist (or has already exited). */
export async function readProcessIdentity(pid: number): Promise<ProcessIdentity | null> {
  const startTicks = await processStartTicks(pid);
  if (startTicks === null) return null;
  return { pid, start_ticks: startTicks, boot_id: await currentBootId() };
}

/** True when the exact process `identity` names is still alive (same boot, same pid, same start time). */
export async function isProcessAlive(identity: ProcessIdentity): Promise<boolean> {
  if (identity.boot_id !== (await currentBootId())) return false;
  return processStillRuns(identity);
}

/**
 * Live processes readable by this user that run exactly `argv` with `name=value` in their environment, oldest
 * first. Finds a process whose pid was never recorded (its starter was killed between spawning it and writing
 * it down); the command line keeps out the process's own children, which may inherit its environment.
 */
export async function findProcessesWithEnvironment(name: string, value: string, argv: readonly string[]): Promise<ProcessIdentity[]> {
  const wanted = `${name}=${value}`;
  const command = `${argv.join('\0')}\0`;
  const found: ProcessIdentity[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: string;
    let cmdline: string;
    try {
      [environ, cmdline] = await Promise.all([readFile(`/proc/${entry}/environ`, 'utf8'), readFile(`/proc/${entry}/cmdline`, 'utf8')]);
    } catch {
      continue; // gone meanwhile, or another user's process
    }
    if (cmdline !== command || !environ.split('\0').includes(wanted)) continue;
    const identity = await readProcessIdentity(Number(entry));
    if (identity !== null) found.push(identity);
  }
  return found.sort((a, b) => (BigInt(a.start_ticks) < BigInt(b.start_ticks) ? -1 : BigInt(a.start_ticks) > BigInt(b.start_ticks) ? 1 : 0));
}
