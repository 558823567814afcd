import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Whether ApacheBench (`ab`, Debian's apache2-utils) is on the PATH. */
export async function abAvailable(): Promise<boolean> {
  try {
    await run('ab', ['-V']);
    return true;
  } catch {
    return false;
  }
}

/**
 * Closed-loop HTTP load from ApacheBench: `concurrency` keep-alive connections for `durationMs`. A separate
 * native process costs the machine far less CPU per request than a Node client, so on a small machine the
 * figure is the server's rather than the client's. Latency percentiles are whole milliseconds (ab's resolution).
 */
export async function measureWithAb(
  url: string,
  options: { concurrency: number; durationMs: number; headers?: Record<string, string>; postJson?: string },
): Promise<{ rps: number; count: number; errors: number; p50: number; p99: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ab-load-'));
  try {
    const common = ['-k', '-q', '-c', String(options.concurrency)];
    for (const [name, value] of Object.entries(options.headers ?? {})) common.push('-H', `${name}: ${value}`);
    if (options.postJson !== undefined) {
      const body = path.join(dir, 'body.json');
      writeFileSync(body, options.postJson);
      common.push('-p', body, '-T', 'application/json');
    }
    // Warm-up, so the measured run starts with connections and JIT in their steady state.
    await run('ab', ['-n', String(options.concurrency * 50), ...common, url], { maxBuffer: 1 << 20 });
    const seconds = String(Math.ceil(options.durationMs / 1000));
    const { stdout } = await run('ab', ['-t', seconds, '-n', '10000000', ...common, url], { maxBuffer: 1 << 20 });
    const number = (pattern: RegExp): number => Number(pattern.exec(stdout)?.[1] ?? 0);
    return {
      rps: number(/Requests per second:\s+([\d.]+)/),
      count: number(/Complete requests:\s+(\d+)/),
      errors: number(/Failed requests:\s+(\d+)/) + number(/Non-2xx responses:\s+(\d+)/),
      p50: number(/^\s+50%\s+(\d+)/m),
      p99: number(/^\s+99%\s+(\d+)/m),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
