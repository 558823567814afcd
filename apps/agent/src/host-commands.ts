import { spawn } from 'node:child_process';
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/*
 * The host tools a machine instance is built and run with (mount, umount, ldconfig, nsenter), and the paths
 * of a root on the host. One place, so every caller gets the same environment, bounds and unmount rules.
 */

/** What a short host command did: exit code (null when it could not start or was killed) and its output tails. */
export interface HostCommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a host program (argv, no shell) with a fixed PATH and locale; killed after `timeoutMs`. */
export async function runHostCommand(argv: readonly string[], timeoutMs: number): Promise<HostCommandResult> {
  const [program, ...args] = argv as [string, ...string[]];
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (text: string) => (stdout = (stdout + text).slice(-64_000)));
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4_000)));
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: error.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** True when something is mounted at `mountPoint` (this process's mount namespace). */
export async function isMounted(mountPoint: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((line) => line.split(' ')[4] === mountPoint);
}

/** Unmounts `mountPoint`, retrying while something still holds it, and detaches it (lazy) as the last resort. */
export async function unmount(mountPoint: string): Promise<void> {
  for (let attempt = 0; attempt < 10 && (await isMounted(mountPoint)); attempt++) {
    const outcome = await runHostCommand(['umount', mountPoint], 10_000);
    if (outcome.code === 0) return;
    await sleep(200);
  }
  // Something still holds it (a process that lingered): detach it so the next mount starts afresh.
  if (await isMounted(mountPoint)) await runHostCommand(['umount', '--lazy', mountPoint], 10_000);
}

/** The host path of a module path under `root` (module paths are normalised by the tar reader: no `..`). */
export function hostPathOf(root: string, modulePath: string): string {
  return path.join(root, ...modulePath.split('/').filter((part) => part !== ''));
}

/** True when anything (even a dangling symlink) is at `hostPath`. */
export async function pathExists(hostPath: string): Promise<boolean> {
  return lstat(hostPath).then(
    () => true,
    () => false,
  );
}
