import { spawn } from 'node:child_process';
import { ISOLATED_PATH } from './executable-lookup.js';

/*
 * Module init commands never run on the bare host. They run inside an isolation boundary rooted at the
 * composed root:
 *
 * - bubblewrap: the root bound read-only as `/`, fresh /proc, a minimal /dev, tmpfs /tmp and /run, every
 *   namespace unshared (user, pid, mount, ipc, uts, cgroup, and net unless the host network is asked for),
 *   a new session, killed with the agent, an empty environment but PATH/HOME/POWERNODE_MODULE.
 * - unshare (util-linux) when bubblewrap is missing or cannot create namespaces: new pid, mount, uts, ipc
 *   (and net) namespaces, /proc remounted, chrooted into the root. Weaker: the root is not read-only and
 *   /dev is the skeleton's empty directory.
 * - none: nothing is run; every command is recorded as skipped with the reason the probes gave.
 */

/** The boundary the agent found, or why there is none. */
export type IsolationBoundary =
  | { kind: 'bwrap'; program: string }
  | { kind: 'unshare'; program: string }
  /** A booted machine (systemd-nspawn): commands enter its namespaces; `enter` gives the host argv. */
  | { kind: 'machine'; program: string; enter: (argv: readonly string[]) => string[] }
  | { kind: 'none'; reason: string };

/** What to run and where. */
export interface IsolatedCommand {
  /** Host path of the composed root. */
  root: string;
  /** argv as the root sees it; argv[0] already resolved inside the root. */
  argv: readonly string[];
  hostname: string;
  network: 'none' | 'host';
  moduleName: string;
}

/** Environment of an isolated command (the host's environment never leaks in). */
export function isolatedEnvironment(moduleName: string): Record<string, string> {
  return { PATH: ISOLATED_PATH, HOME: '/root', LANG: 'C.UTF-8', POWERNODE_MODULE: moduleName };
}

/** The host argv that runs `command` inside `boundary` (pure; `none` has no argv). */
export function isolatedArgv(boundary: Exclude<IsolationBoundary, { kind: 'none' }>, command: IsolatedCommand): string[] {
  switch (boundary.kind) {
    case 'bwrap': {
      const env = Object.entries(isolatedEnvironment(command.moduleName)).flatMap(([name, value]) => ['--setenv', name, value]);
      return [
        boundary.program,
        '--ro-bind',
        command.root,
        '/',
        '--proc',
        '/proc',
        '--dev',
        '/dev',
        '--tmpfs',
        '/tmp',
        '--tmpfs',
        '/run',
        '--unshare-all',
        ...(command.network === 'host' ? ['--share-net'] : []),
        '--hostname',
        command.hostname,
        '--die-with-parent',
        '--new-session',
        '--clearenv',
        ...env,
        '--chdir',
        '/',
        '--',
        ...command.argv,
      ];
    }
    case 'unshare':
      return [
        boundary.program,
        '--fork',
        '--pid',
        '--mount',
        '--uts',
        '--ipc',
        ...(command.network === 'host' ? [] : ['--net']),
        '--kill-child',
        '--mount-proc',
        `--root=${command.root}`,
        '--wd=/',
        '--',
        ...command.argv,
      ];
    case 'machine':
      return boundary.enter(command.argv);
    default: {
      const unreachable: never = boundary;
      return unreachable;
    }
  }
}

/** The outcome of a short-lived host process: exit code (null when killed) and the end of its stderr. */
export async function runProbe(
  argv: readonly string[],
  timeoutMs: number,
  env?: Record<string, string>,
): Promise<{ code: number | null; stderr: string; spawnError?: string }> {
  const [program, ...args] = argv as [string, ...string[]];
  return new Promise((resolve) => {
    let stderr = '';
    let settled = false;
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(env === undefined ? {} : { env }) });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-2000);
    });
    child.once('error', (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code: null, stderr, spawnError: (error as NodeJS.ErrnoException).code ?? error.message });
    });
    child.once('close', (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

function probeFailure(name: string, outcome: { code: number | null; stderr: string; spawnError?: string }): string {
  if (outcome.spawnError === 'ENOENT') return `${name} is not installed`;
  if (outcome.spawnError !== undefined) return `${name} cannot be started (${outcome.spawnError})`;
  const firstLine = outcome.stderr.trim().split('\n')[0] ?? '';
  return `${name} cannot isolate here (exit ${outcome.code ?? 'killed'}${firstLine === '' ? '' : `: ${firstLine}`})`;
}

const PROBE_TIMEOUT_MS = 10_000;

/**
 * Finds the isolation boundary this machine offers by running `/bin/true` of the host inside each candidate
 * (the host root bound read-only, every namespace unshared): bubblewrap first, then unshare. `preference`
 * forces one (still probed: a forced boundary that does not work is reported, not used) or `none`.
 */
export async function detectIsolationBoundary(preference: 'auto' | 'bwrap' | 'unshare' | 'none'): Promise<IsolationBoundary> {
  if (preference === 'none') return { kind: 'none', reason: 'disabled by POWERNODE_AGENT_ISOLATION=none' };
  const problems: string[] = [];
  if (preference === 'auto' || preference === 'bwrap') {
    const outcome = await runProbe(
      ['bwrap', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--unshare-all', '--die-with-parent', '--', '/bin/true'],
      PROBE_TIMEOUT_MS,
    );
    if (outcome.code === 0) return { kind: 'bwrap', program: 'bwrap' };
    problems.push(probeFailure('bwrap', outcome));
  }
  if (preference === 'auto' || preference === 'unshare') {
    const outcome = await runProbe(
      ['unshare', '--fork', '--pid', '--mount', '--uts', '--ipc', '--net', '--kill-child', '--mount-proc', '--root=/', '--wd=/', '--', '/bin/true'],
      PROBE_TIMEOUT_MS,
    );
    if (outcome.code === 0) return { kind: 'unshare', program: 'unshare' };
    problems.push(probeFailure('unshare', outcome));
  }
  return { kind: 'none', reason: problems.join('; ') };
}
