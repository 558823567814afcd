import { spawn } from 'node:child_process';
import { PowernodeError } from '@powernode/contracts';

/** One line a build tool printed, passed on so a CLI can show progress during a long step. */
export type BuildProgressListener = (line: string) => void;

/** What a finished command printed and how it ended. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines of stdout and stderr together, in order: what an error message quotes. */
  tail: string[];
}

const TAIL_LINES = 60;

/** Runs argv (no shell), streaming each output line to `onLine`; resolves with the exit status, never throws on a non-zero exit. */
export function runCommand(
  argv: readonly string[],
  options: { env?: NodeJS.ProcessEnv; onLine?: BuildProgressListener; cwd?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const feed = (): ((chunk: Buffer) => void) => {
      let partial = '';
      return (chunk) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop()!;
        for (const line of lines) {
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
          options.onLine?.(line);
        }
      };
    };
    child.stdout.on('data', feed());
    child.stderr.on('data', feed());
    child.on('error', (cause) =>
      reject(
        new PowernodeError('build_tool_failed', `cannot run ${argv[0]}: ${cause.message}; install it (apt-get install mmdebstrap util-linux coreutils)`, {
          cause,
          details: { command: argv[0] },
        }),
      ),
    );
    child.on('close', (code, signal) => resolve({ code, signal, tail }));
  });
}

/** Runs argv and throws `build_tool_failed` with the output's tail when it does not exit 0. */
export async function runCommandOrThrow(argv: readonly string[], options: Parameters<typeof runCommand>[1] & { what: string }): Promise<CommandResult> {
  const result = await runCommand(argv, options);
  if (result.code !== 0) {
    throw new PowernodeError(
      'build_tool_failed',
      `${options.what} failed (${result.signal ?? `exit ${result.code}`}); its last output:\n${result.tail.join('\n')}`,
      {
        details: { command: argv.join(' '), exit_code: result.code, signal: result.signal, output_tail: result.tail },
      },
    );
  }
  return result;
}
