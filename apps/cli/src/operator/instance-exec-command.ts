import { once } from 'node:events';
import type { Command } from 'commander';
import {
  INSTANCE_EXEC_LIMITS,
  INSTANCE_EXEC_STREAM_MEDIA_TYPE,
  isPowernodeError,
  PowernodeError,
  type InstanceExecEnd,
  type InstanceExecResult,
  type InstanceExecStream,
  type InstanceExecStreamLine,
} from '@powernode/contracts';
import { postForLines } from './ndjson-request.js';
import { platformTarget, type PlatformTarget } from './platform-api.js';

/**
 * `powernode instances exec <instance-id> -- <argv…>`: runs argv on the instance (never through a shell) and
 * behaves like the command itself — its stdout on stdout and its stderr on stderr as it writes them, its exit
 * code as ours. A refusal (unknown, terminated or stopped instance) prints `code: message` and exits 1.
 * `--json` prints one result document at the end instead, with the whole output.
 */
export function registerInstanceExecCommand(instances: Command): void {
  instances
    .command('exec <instance-id> <argv...>')
    .description('run argv (after --) on an instance, never through a shell; streams its output and exits with its exit code')
    .option(
      '--timeout <seconds>',
      `kill the command after this many seconds (${INSTANCE_EXEC_LIMITS.min_timeout_ms / 1000}–${INSTANCE_EXEC_LIMITS.max_timeout_ms / 1000})`,
      String(INSTANCE_EXEC_LIMITS.default_timeout_ms / 1000),
    )
    .action(async function (this: Command, id: string, argv: string[], o: { timeout: string }) {
      const opts = this.optsWithGlobals<{ url?: string; token?: string; json?: boolean }>();
      const seconds = Number(o.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0) {
        process.stderr.write(`powernode: --timeout must be a number of seconds, got ${JSON.stringify(o.timeout)}\n`);
        process.exitCode = 2;
        return;
      }
      const input = { id, argv, timeout_ms: Math.round(seconds * 1000) };
      try {
        process.exitCode = opts.json ? await execBuffered(platformTarget(opts), input) : await execStreamed(platformTarget(opts), input, seconds);
      } catch (error) {
        if (!isPowernodeError(error)) throw error;
        if (opts.json) process.stdout.write(`${JSON.stringify({ error: error.toBody() }, null, 2)}\n`);
        process.stderr.write(`powernode: ${error.code}: ${error.message}\n`);
        process.exitCode = 1;
      }
    });
}

/** The whole result as one JSON document once the command has ended (the stream collected: nothing is cut). */
async function execBuffered(target: PlatformTarget, input: ExecRequest): Promise<number> {
  const output = { stdout: [] as string[], stderr: [] as string[] };
  const end = await streamExec(target, input, (stream, data) => void output[stream].push(data));
  const result: InstanceExecResult = {
    exit_code: end.exit_code,
    stdout: output.stdout.join(''),
    stderr: output.stderr.join(''),
    truncated: false,
    timed_out: end.timed_out,
    duration_ms: end.duration_ms,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return result.exit_code;
}

/** Writes the output to our stdout and stderr as it streams in; the command's exit code. */
async function execStreamed(target: PlatformTarget, input: ExecRequest, seconds: number): Promise<number> {
  const end = await streamExec(target, input, async (stream, data) => {
    const out = stream === 'stdout' ? process.stdout : process.stderr;
    // Hold the next line back while the terminal or pipe is full, rather than buffer the whole output here.
    if (!out.write(data)) await once(out, 'drain');
  });
  if (end.timed_out) process.stderr.write(`powernode: the command was killed after ${seconds} s (--timeout)\n`);
  return end.exit_code;
}

interface ExecRequest {
  id: string;
  argv: string[];
  timeout_ms: number;
}

/** Runs the command with its output streamed to `onOutput`; how it ended, or a PowernodeError when refused or cut short. */
async function streamExec(
  target: PlatformTarget,
  input: ExecRequest,
  onOutput: (stream: InstanceExecStream, data: string) => void | Promise<void>,
): Promise<InstanceExecEnd> {
  let end: InstanceExecEnd | null = null;
  await postForLines(
    target,
    `/instances/${encodeURIComponent(input.id)}/exec`,
    { argv: input.argv, timeout_ms: input.timeout_ms },
    INSTANCE_EXEC_STREAM_MEDIA_TYPE,
    async (raw) => {
      const line = raw as InstanceExecStreamLine;
      if ('stream' in line) await onOutput(line.stream, line.data);
      else if ('error' in line)
        throw new PowernodeError(line.error.code as never, line.error.message, line.error.details ? { details: line.error.details } : {});
      else end = line;
    },
  );
  if (end === null)
    throw new PowernodeError('stream_interrupted', 'the platform ended the answer before the command did: its exit code is unknown; run it again');
  return end;
}
