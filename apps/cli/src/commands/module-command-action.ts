import type { Command } from 'commander';
import { isPowernodeError } from '@powernode/contracts/errors';

// How every supply-chain command ends (CONTRACT §4): exit 0 ok, 1 refused/invalid, 2 usage. A usage
// problem found after parsing (a missing flag whose environment variable is also unset, two signing modes
// at once) goes through commander so it prints like commander's own usage errors and exits 2; anything
// else is printed as `powernode: <message>` on stderr and, with --json, as `{"error":{…}}` on stdout.

/** A command line that cannot work as written (exit 2), found after commander parsed it. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A refusal the command already explained (exit 1 with nothing more to print), e.g. an invalid manifest. */
export class ReportedFailure extends Error {
  override readonly name = 'ReportedFailure';
  constructor(readonly jsonBody?: unknown) {
    super('reported');
  }
}

/** Writes a JSON document to stdout, one value, pretty-printed. */
export function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Writes one line to stdout. */
export function writeLine(text = ''): void {
  process.stdout.write(`${text}\n`);
}

function errorBody(error: unknown): { code: string; message: string; details?: Record<string, unknown> } {
  if (isPowernodeError(error)) return error.toBody();
  return { code: 'internal', message: (error as Error).message ?? String(error) };
}

/**
 * Wraps a command action: the action's result is the exit code it wants (default 0); with `--json` a failure
 * is also printed as JSON on stdout.
 */
export function commandAction<Args extends unknown[]>(action: (...args: Args) => Promise<number | void>): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    // commander passes the options, then the command itself, last. The program has global options of its
    // own (--json among them) that commander consumes wherever they appear: merge them in.
    const command = args[args.length - 1] as Command;
    const options = command.optsWithGlobals();
    args[args.length - 2] = options;
    const json = options['json'] === true;
    try {
      const code = await action(...args);
      if (typeof code === 'number' && code !== 0) process.exitCode = code;
    } catch (error) {
      if (error instanceof UsageError) command.error(`error: ${error.message}`, { exitCode: 2, code: 'powernode.usage' });
      if (error instanceof ReportedFailure) {
        if (json && error.jsonBody !== undefined) writeJson(error.jsonBody);
        process.exitCode = 1;
        return;
      }
      const body = errorBody(error);
      process.stderr.write(`powernode: ${body.message}\n`);
      if (json) writeJson({ error: body });
      process.exitCode = 1;
    }
  };
}
