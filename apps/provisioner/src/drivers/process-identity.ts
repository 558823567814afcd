import { readdir, readFile } from 'node:fs/promises';

/*
 * A process is identified by more than its pid: pids are reused. Linux gives every process a start time (in
 * clock ticks since boot, field 22 of /proc/<pid>/stat) and every boot an id, so (boot id, pid, start time)
 * names exactly one process ever. The local driver records that triple when it starts an agent and signals a
 * pid only while the triple still matches, so a provisioner restarted after a reboot or a pid wrap never
 * adopts, or kills, somebody else's process.
 */

export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot, as a decimal string (it can exceed 2^53 on long uptimes). */
  start_ticks: string;
  boot_id: string;
}

let cachedBootId: string | null = null;

/** This boot's id (`/proc/sys/kernel/random/boot_id`). */
export async function currentBootId(): Promise<string> {
  cachedBootId ??= (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  return cachedBootId;
}

interface ProcStat {
  state: string;
  start_ticks: string;
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
  // The command name (field 2) is in parentheses and may itself contain spaces or parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTicks = fields[19];
  if (state === undefined || startTicks === undefined) return null;
  return { state, start_ticks: startTicks };
}

/** A zombie has exited; only its parent has not collected it yet. */
function isGone(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

/** The identity of a live process, or null when it does not exist (or has already exited). */
export async function readProcessIdentity(pid: number): Promise<ProcessIdentity | null> {
  const stat = await readProcStat(pid);
  if (stat === null || isGone(stat.state)) return null;
  return { pid, start_ticks: stat.start_ticks, boot_id: await currentBootId() };
}

/** True when the exact process `identity` names is still alive (same boot, same pid, same start time). */
export async function isProcessAlive(identity: ProcessIdentity): Promise<boolean> {
  if (identity.boot_id !== (await currentBootId())) return false;
  const stat = await readProcStat(identity.pid);
  return stat !== null && !isGone(stat.state) && stat.start_ticks === identity.start_ticks;
}

/**
 * Live processes readable by this user that run exactly `argv` with `name=value` in their environment, oldest
 * first. Used to find an agent whose pid was never recorded (its starter was killed between spawning it and
 * writing it down); the command line keeps out the agent's own children, which may inherit its environment.
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
