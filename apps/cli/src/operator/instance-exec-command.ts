import type { Command } from 'commander';
import { INSTANCE_EXEC_LIMITS, isPowernodeError, type InstanceExecResult } from '@powernode/contracts';
import { callTool, platformTarget } from './platform-api.js';

/**
 * `powernode instances exec <instance-id> -- <argv…>`: runs argv on the instance (never through a shell) and
 * behaves like the command itself — its stdout on stdout, its stderr on stderr, its exit code as ours. A
 * refusal (unknown, terminated or stopped instance) prints `code: message` and exits 1.
 */
export function registerInstanceExecCommand(instances: Command): void {
  instances
    .command('exec <instance-id> <argv...>')
    .description('run argv (after --) on an instance, never through a shell; exits with its exit code')
    .option('--timeout <seconds>', `kill the command after this many seconds (${INSTANCE_EXEC_LIMITS.min_timeout_ms / 1000}–${INSTANCE_EXEC_LIMITS.max_timeout_ms / 1000})`, String(INSTANCE_EXEC_LIMITS.default_timeout_ms / 1000))
    .action(async function (this: Command, id: string, argv: string[], o: { timeout: string }) {
      const opts = this.optsWithGlobals<{ url?: string; token?: string; json?: boolean }>();
      const seconds = Number(o.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0) {
        process.stderr.write(`powernode: --timeout must be a number of seconds, got ${JSON.stringify(o.timeout)}\n`);
        process.exitCode = 2;
        return;
      }
      let result: InstanceExecResult;
      try {
        result = await callTool<InstanceExecResult>(platformTarget(opts), 'system_exec_instance', { id, argv, timeout_ms: Math.round(seconds * 1000) });
      } catch (error) {
        if (!isPowernodeError(error)) throw error;
        if (opts.json) process.stdout.write(`${JSON.stringify({ error: error.toBody() }, null, 2)}\n`);
        process.stderr.write(`powernode: ${error.code}: ${error.message}\n`);
        process.exitCode = 1;
        return;
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } else {
        process.stdout.write(result.stdout);
        process.stderr.write(result.stderr);
        if (result.timed_out) process.stderr.write(`powernode: the command was killed after ${seconds} s (--timeout)\n`);
        if (result.truncated) process.stderr.write('powernode: output was cut at the 1 MiB limit\n');
      }
      process.exitCode = result.exit_code;
    });
}
