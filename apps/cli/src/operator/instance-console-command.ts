import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { isPowernodeError } from '@powernode/contracts';
import { callTool, platformTarget } from './platform-api.js';

/** How often `--follow` asks for what the console printed since. */
const FOLLOW_INTERVAL_MS = 1_000;

interface ConsoleChunk {
  text: string;
  next_offset: number;
  size: number;
}

/**
 * `powernode instances console <instance-id>`: the serial console of a VM instance (the qemu driver keeps every
 * boot's), its last `--tail` bytes; `--follow` then keeps printing what comes, as `tail -f` does, until
 * interrupted. A refusal (unknown or terminated instance, a driver without consoles) prints `code: message`
 * and exits 1.
 */
export function registerInstanceConsoleCommand(instances: Command): void {
  instances
    .command('console <instance-id>')
    .description("print a VM instance's serial console (qemu driver); --follow keeps printing it")
    .option('--tail <bytes>', 'how much of the end to print first', String(64 * 1024))
    .option('-f, --follow', 'keep printing what the console prints, until interrupted')
    .action(async function (this: Command, id: string, o: { tail: string; follow?: boolean }) {
      const opts = this.optsWithGlobals<{ url?: string; token?: string }>();
      try {
        const target = platformTarget(opts);
        let chunk = await callTool<ConsoleChunk>(target, 'system_instance_console', { id, tail_bytes: Number(o.tail) });
        process.stdout.write(chunk.text);
        while (o.follow === true) {
          await sleep(FOLLOW_INTERVAL_MS);
          chunk = await callTool<ConsoleChunk>(target, 'system_instance_console', { id, from: chunk.next_offset });
          if (chunk.text !== '') process.stdout.write(chunk.text);
        }
      } catch (error) {
        if (!isPowernodeError(error)) throw error;
        process.stderr.write(`powernode: ${error.code}: ${error.message}\n`);
        process.exitCode = 1;
      }
    });
}
