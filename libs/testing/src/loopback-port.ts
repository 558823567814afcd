import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

/**
 * A loopback port nothing listens on, for tests of an unreachable server. It lies below the ephemeral range,
 * so no server bound to port 0 and no client socket of a concurrent test can ever be given it (a port picked
 * free and closed again could be). Not port 1: `fetch` refuses that one as a "bad port" without connecting, so
 * a test would see that refusal instead of a refused connection.
 */
export const CLOSED_LOOPBACK_PORT = 2;

/**
 * A loopback port that was free a moment ago. Another process may take it before it is bound, so use it only
 * where a program must be told a fixed port, and start again on a new one when binding fails (see
 * `isAddressInUse`); wherever a program can bind port 0 and say what it bound, let it (`reportedPort`).
 */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when a program's output says it could not bind its address because something else holds it. */
export function isAddressInUse(output: string): boolean {
  return /EADDRINUSE|address already in use/i.test(output);
}

/**
 * Waits until a child process prints the line that names the port it bound (a server started on port 0), and
 * returns that port: the one address the child certainly holds, where a port picked beforehand may have been
 * taken by another process in between. `pattern` captures the port as its first group. Rejects, with the
 * child's last output, when it exits or stays silent for `timeoutMs`.
 */
export function reportedPort(
  child: ChildProcess,
  pattern: RegExp,
  options: { name: string; timeoutMs: number; stream?: 'stdout' | 'stderr' },
): Promise<number> {
  const stream = options.stream === 'stdout' ? child.stdout : child.stderr;
  if (!stream) return Promise.reject(new Error(`${options.name}: its ${options.stream ?? 'stderr'} is not piped, so the port it bound cannot be read`));
  const seen: string[] = [];
  return new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: stream });
    const done = (settle: () => void): void => {
      clearTimeout(timer);
      lines.off('line', onLine);
      child.off('exit', onExit);
      child.off('error', onError);
      settle();
    };
    const onLine = (line: string): void => {
      seen.push(line);
      if (seen.length > 30) seen.shift();
      const port = Number(pattern.exec(line)?.[1]);
      if (Number.isInteger(port) && port > 0) done(() => resolve(port));
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      done(() => reject(new Error(`${options.name} exited (${signal ?? `code ${code}`}) before saying which port it bound:\n${seen.join('\n')}`)));
    const onError = (error: Error): void => done(() => reject(error));
    const timer = setTimeout(
      () => done(() => reject(new Error(`${options.name} did not say which port it bound within ${options.timeoutMs} ms:\n${seen.join('\n')}`))),
      options.timeoutMs,
    );
    lines.on('line', onLine);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}
