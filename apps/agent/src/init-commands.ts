import { spawn } from 'node:child_process';
import path from 'node:path';
import { splitArgv } from '@powernode/manifest';
import { findExecutableInRoot } from './executable-lookup.js';
import type { ModuleRunState } from './composition-state.js';
import { isolatedArgv, isolatedEnvironment, type IsolationBoundary } from './isolation-boundary.js';

/** Which init command of a module. */
export type InitAction = 'start' | 'stop' | 'restart';

/**
 * How running an init command went. `skipped` means it could not run at all (no command, no isolation
 * boundary, no such program in the composed root); `failed` means it ran (or was refused) and did not succeed.
 */
export type InitCommandResult =
  | { outcome: 'succeeded'; argv: string[] }
  | { outcome: 'failed'; reason: string; argv?: string[]; exitCode?: number | null }
  | { outcome: 'skipped'; reason: string };

/** What to run. */
export interface InitCommandRequest {
  moduleName: string;
  action: InitAction;
  /** The manifest's command string (`init.start` …), or null when the module has none. */
  command: string | null;
  /** Host path of the composed root the command runs in. */
  root: string;
  boundary: IsolationBoundary;
  hostname: string;
  network: 'none' | 'host';
  timeoutMs: number;
}

const OUTPUT_TAIL_BYTES = 2_000;

function lastLine(text: string): string {
  const lines = text
    .trim()
    .split('\n')
    .filter((line) => line.trim() !== '');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

/** The boundary's own "cannot exec" message: the program exists but cannot be executed there (missing loader or interpreter). */
function execFailedInside(boundary: IsolationBoundary['kind'], code: number | null, stderr: string): boolean {
  switch (boundary) {
    case 'bwrap':
      return code === 1 && /^bwrap: execvp [^\n]*: (No such file or directory|Permission denied|Exec format error)/m.test(stderr);
    case 'unshare':
      return (code === 126 || code === 127) && /^unshare: failed to execute /m.test(stderr);
    case 'machine':
      return (code === 126 || code === 127) && /^nsenter: failed to execute /m.test(stderr);
    case 'none':
      return false;
    default: {
      const unreachable: never = boundary;
      return unreachable;
    }
  }
}

/**
 * Runs a module's init command as an argv (never through a shell) inside the isolation boundary, rooted at the
 * composed root, and waits for it (init commands start or stop a service and return, as `systemctl start`
 * does; one still running after `timeoutMs` is killed and counts as failed). Never runs anything on the bare
 * host: without a boundary, or when the root has no such program, the command is skipped with the reason.
 */
export async function runInitCommand(request: InitCommandRequest): Promise<InitCommandResult> {
  if (request.command === null || request.command.trim() === '') return { outcome: 'skipped', reason: `no init.${request.action} command` };
  let argv: string[];
  try {
    argv = splitArgv(request.command);
  } catch (error) {
    return { outcome: 'failed', reason: (error as Error).message };
  }
  if (argv.length === 0) return { outcome: 'skipped', reason: `no init.${request.action} command` };
  if (request.boundary.kind === 'none') return { outcome: 'skipped', reason: `no isolation boundary available (${request.boundary.reason})` };
  const program = argv[0]!;
  const resolved = await findExecutableInRoot(request.root, program);
  if (resolved === undefined) {
    return { outcome: 'skipped', reason: `${program} is not in the composed root (no init system or binary to run it)` };
  }
  // Only a machine instance boots an init system; in a sandbox systemctl can only fail ("not booted with systemd").
  if (request.boundary.kind !== 'machine' && path.posix.basename(program) === 'systemctl') {
    return {
      outcome: 'skipped',
      reason: `no init system runs in a ${request.boundary.kind} sandbox (the local driver); a machine instance (nspawn) runs systemctl`,
    };
  }
  const inside = [resolved, ...argv.slice(1)];
  const hostArgv = isolatedArgv(request.boundary, {
    root: request.root,
    argv: inside,
    hostname: request.hostname,
    network: request.network,
    moduleName: request.moduleName,
  });
  const [hostProgram, ...hostArgs] = hostArgv as [string, ...string[]];
  const { code, signal, stderr, output, timedOut, spawnError } = await new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stderr: string;
    output: string;
    timedOut: boolean;
    spawnError?: string;
  }>((resolve) => {
    let stderrTail = '';
    let outputTail = '';
    let timedOutFlag = false;
    let settled = false;
    // unshare passes its environment on to the command; bwrap clears it and sets its own.
    const child = spawn(hostProgram, hostArgs, { stdio: ['ignore', 'pipe', 'pipe'], env: isolatedEnvironment(request.moduleName), detached: false });
    const timer = setTimeout(() => {
      timedOutFlag = true;
      child.kill('SIGKILL');
    }, request.timeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      outputTail = (outputTail + text).slice(-OUTPUT_TAIL_BYTES);
    });
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderrTail = (stderrTail + text).slice(-OUTPUT_TAIL_BYTES);
    });
    child.once('error', (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code: null, signal: null, stderr: stderrTail, output: outputTail, timedOut: false, spawnError: (error as Error).message });
    });
    child.once('close', (exitCode, exitSignal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code: exitCode, signal: exitSignal, stderr: stderrTail, output: outputTail, timedOut: timedOutFlag });
    });
  });
  if (spawnError !== undefined) return { outcome: 'skipped', reason: `no isolation boundary available (${request.boundary.kind}: ${spawnError})` };
  if (timedOut) return { outcome: 'failed', reason: `did not finish within ${request.timeoutMs} ms and was killed`, argv: inside, exitCode: null };
  if (code === 0) return { outcome: 'succeeded', argv: inside };
  if (execFailedInside(request.boundary.kind, code, stderr)) {
    return { outcome: 'skipped', reason: `${program} cannot be executed in the composed root (${lastLine(stderr)})` };
  }
  const detail = lastLine(stderr) || lastLine(output);
  return {
    outcome: 'failed',
    reason: `${code === null ? `killed by ${signal ?? 'a signal'}` : `exit code ${code}`}${detail === '' ? '' : `: ${detail}`}`,
    argv: inside,
    exitCode: code,
  };
}

/** An init.start outcome as the module's run state (stop outcomes are mapped by their callers). */
export function runStateAfterStart(result: InitCommandResult): ModuleRunState {
  switch (result.outcome) {
    case 'succeeded':
      return { state: 'started' };
    case 'failed':
      return { state: 'failed', reason: result.reason };
    case 'skipped':
      return { state: 'skipped', reason: result.reason };
    default: {
      const unreachable: never = result;
      return unreachable;
    }
  }
}
