import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { lstat, readdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PowernodeError, type InstanceExecEnd } from '@powernode/contracts';
import { EXEC_TIMEOUT_EXIT_CODE, type ExecOptions } from './hypervisor-driver.js';

/*
 * `exec` of the local driver: the command runs in bubblewrap with the instance's composed root (the agent's
 * `<sandbox>/current`) as `/`, read-only, every namespace unshared, fresh /proc, a minimal /dev, tmpfs /tmp
 * and /run, an empty environment but PATH/HOME/LANG — the boundary the agent runs module init commands in.
 *
 * The root is assembled entry by entry on bubblewrap's own (tmpfs) root, which is then made read-only,
 * instead of binding the composed root as `/` in one piece: a local instance has no machine of its own, and
 * a root composed only of configuration modules (the example base ships /etc but no userland) would leave
 * nothing to run. Where the composed root ships no /usr, the host's /usr and its /bin, /sbin and /lib*
 * are bound read-only in its place; a base module that ships /usr is used as is, and nothing else of the
 * host (its /etc, /home, /var, …) is ever visible.
 */

/** One top-level entry of the sandbox root: a directory or file bound read-only, or a symlink. */
export type SandboxRootEntry = { name: string; kind: 'bind'; source: string } | { name: string; kind: 'symlink'; target: string };

/** The host's userland, lent to a root that has none. */
const HOST_USERLAND = ['usr', 'bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'] as const;
/** Mounted by the boundary itself; whatever the root ships there (the skeleton's empty directories) is covered. */
const BOUNDARY_MOUNTS = new Set(['proc', 'dev', 'tmp', 'run']);
const EXEC_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The bwrap argv that runs `argv` on a read-only root made of `entries` (pure). */
export function sandboxExecArgv(input: { program: string; entries: readonly SandboxRootEntry[]; hostname: string; argv: readonly string[] }): string[] {
  const mounts = input.entries
    .filter((entry) => !BOUNDARY_MOUNTS.has(entry.name))
    .flatMap((entry) => (entry.kind === 'symlink' ? ['--symlink', entry.target, `/${entry.name}`] : ['--ro-bind', entry.source, `/${entry.name}`]));
  return [
    input.program,
    ...mounts,
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    '--tmpfs',
    '/run',
    // Last of the mounts: the mount points above are created first, then bwrap's own root turns read-only.
    '--remount-ro',
    '/',
    '--unshare-all',
    '--hostname',
    input.hostname,
    '--die-with-parent',
    '--new-session',
    '--clearenv',
    '--setenv',
    'PATH',
    EXEC_PATH,
    '--setenv',
    'HOME',
    '/root',
    '--setenv',
    'LANG',
    'C.UTF-8',
    '--chdir',
    '/',
    '--',
    ...input.argv,
  ];
}

/**
 * The entries of the composed root `<sandbox>/current`, plus the host's userland when the root ships no /usr.
 * Refuses (retryable `conflict`) while the agent has composed no root yet.
 */
export async function sandboxRootEntries(currentLink: string, instanceId: string): Promise<SandboxRootEntry[]> {
  let root: string;
  let names: string[];
  try {
    // Resolved once: the agent may switch `current` to a new generation while the command runs.
    root = await realpath(currentLink);
    names = (await readdir(root)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new PowernodeError(
      'conflict',
      `instance ${instanceId} has no composed root yet: its agent has not finished composing its modules; look at the instance's errors and try again once it reports running modules`,
      {
        cause: error,
        retryable: true,
        details: { instance_id: instanceId, rule: 'composed_root_required' },
      },
    );
  }
  const entries = await Promise.all(names.map((name) => entryAt(path.join(root, name), name)));
  if (!names.includes('usr')) {
    for (const name of HOST_USERLAND) {
      if (names.includes(name)) continue;
      const host = await entryAt(`/${name}`, name).catch(() => null);
      if (host !== null) entries.push(host);
    }
  }
  return entries;
}

async function entryAt(source: string, name: string): Promise<SandboxRootEntry> {
  const stats = await lstat(source);
  return stats.isSymbolicLink() ? { name, kind: 'symlink', target: await readlink(source) } : { name, kind: 'bind', source };
}

/**
 * Runs a host argv (the bwrap or nsenter command line) with a hard timeout, handing each chunk of its stdout
 * and stderr to `options.onOutput` as it arrives; the outcome is the command's: exit code (124 on timeout,
 * 128 + n for signal n).
 */
export async function runStreaming(argv: readonly string[], options: ExecOptions): Promise<InstanceExecEnd> {
  const [program, ...args] = argv as [string, ...string[]];
  const started = performance.now();
  if (options.signal?.aborted) return { exit_code: 128 + (osConstants.signals.SIGKILL ?? 9), timed_out: false, duration_ms: 0 };
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
  child.once('spawn', () => options.onStart?.());
  child.stdout.on('data', (chunk: Buffer) => options.onOutput('stdout', chunk));
  child.stderr.on('data', (chunk: Buffer) => options.onOutput('stderr', chunk));
  let timedOut = false;
  // bwrap dies by SIGKILL; --die-with-parent and the pid namespace take everything it started with it.
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  const abandon = (): void => void child.kill('SIGKILL');
  options.signal?.addEventListener('abort', abandon, { once: true });
  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      // 'close', not 'exit': every byte of both pipes has been handed on by then.
      child.once('close', (c, s) => resolve({ code: c, signal: s }));
    });
    return {
      exit_code: timedOut ? EXEC_TIMEOUT_EXIT_CODE : (code ?? 128 + (signal === null ? 0 : (osConstants.signals[signal] ?? 0))),
      timed_out: timedOut,
      duration_ms: Math.round(performance.now() - started),
    };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PowernodeError(
      code === 'ENOENT' ? 'config_invalid' : 'internal',
      code === 'ENOENT'
        ? `cannot run commands on local instances: ${program} is not installed (apt-get install bubblewrap)`
        : `cannot start ${program} to run the command: ${(error as Error).message}`,
      { cause: error, details: { driver: 'local', program, rule: 'exec_boundary_required' } },
    );
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', abandon);
  }
}
