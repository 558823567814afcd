import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';

const COLORS = [36, 35, 33, 32, 34, 96, 95, 93];
const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Renders one line of a child's output: pino JSON becomes `time level msg key=value…`, anything else as is. */
export function renderLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const { level, time, msg, pid: _pid, hostname: _h, service: _s, ...rest } = entry;
    const t = typeof time === 'string' ? time.slice(11, 19) : '';
    const extras = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${t} ${(LEVELS[Number(level)] ?? String(level)).padEnd(5)} ${String(msg ?? '')}${extras ? ` ${extras}` : ''}`;
  } catch {
    return line;
  }
}

interface Supervised {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/**
 * Starts child processes with readable prefixed output and stops them in reverse order (SIGTERM, then
 * SIGKILL after a grace period). Only processes it started are ever signalled.
 */
export class ProcessSupervisor {
  private readonly children: Supervised[] = [];
  private readonly width: number;
  private stopping = false;

  constructor(
    private readonly out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
    names: string[] = [],
  ) {
    this.width = Math.max(8, ...names.map((n) => n.length));
  }

  /** Spawns a child; `onExit` is told when it ends unexpectedly (not during stopAll). */
  start(name: string, command: string, args: string[], options: SpawnOptions = {}, onExit?: (code: number | null) => void): ChildProcess {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const color = COLORS[this.children.length % COLORS.length];
    const prefix = process.stdout.isTTY ? `\u001b[${color}m${name.padEnd(this.width)} |\u001b[0m` : `${name.padEnd(this.width)} |`;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => this.out(`${prefix} ${renderLogLine(line)}`));
    }
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code, signal) => {
        if (!this.stopping) {
          this.out(`${prefix} exited (${signal ?? `code ${code}`})`);
          onExit?.(code);
        }
        resolve(code);
      });
      child.once('error', (error) => {
        this.out(`${prefix} failed to start: ${error.message}`);
        resolve(null);
      });
    });
    this.children.push({ name, child, exited });
    return child;
  }

  /** True once stopAll began: nothing should be started any more. */
  get stopped(): boolean {
    return this.stopping;
  }

  /** Stops every child in reverse start order. */
  async stopAll(graceMs = 8000): Promise<void> {
    this.stopping = true;
    for (const { child, exited } of [...this.children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
  }
}
