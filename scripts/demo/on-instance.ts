import { MACHINE_DRIVER_KINDS } from '@powernode/contracts';
import { runPowernode } from './powernode-cli.js';
import { waitUntil, type StepContext } from './steps.js';

/** What one command printed on the instance. */
export interface OnInstanceOutput {
  exit_code: number | null;
  stdout: string;
}

/**
 * The tutorial's last step, on the instance itself: `powernode instances exec <id> -- <argv…>` runs each
 * command inside the instance and prints what it printed. Throws when a command fails.
 */
export async function checkOnInstance(
  ctx: StepContext,
  instanceId: string,
  commands: readonly (readonly string[])[],
): Promise<Record<string, OnInstanceOutput>> {
  const env = { ...process.env, POWERNODE_URL: ctx.target.url, POWERNODE_TOKEN: ctx.target.token };
  const seen: Record<string, OnInstanceOutput> = {};
  for (const command of commands) {
    const argv = ['instances', 'exec', instanceId, '--', ...command];
    const run = await runPowernode(argv, env);
    ctx.narrator.record({
      kind: 'command',
      step: 'on the instance',
      argv: ['powernode', ...argv],
      result: { exit_code: run.code, stdout: run.stdout.trim(), stderr: run.stderr.trim() },
    });
    seen[command.join(' ')] = { exit_code: run.code, stdout: run.stdout.trim() };
    if (run.code !== 0) throw new Error(`${command.join(' ')} on instance ${instanceId} exited ${run.code}: ${run.stderr.trim() || run.stdout.trim()}`);
  }
  return seen;
}

/**
 * Asks redis itself, on a machine instance, once systemd reports redis-server active: what each command
 * printed. An instance of a driver that boots no machine has no redis to ask; that is noted, and nothing is run.
 */
export async function checkRedisOnInstance(ctx: StepContext, instance: { id: string; driver: unknown }): Promise<Record<string, OnInstanceOutput>> {
  if (!MACHINE_DRIVER_KINDS.has(String(instance.driver))) {
    ctx.narrator.record({
      kind: 'note',
      step: 'on the instance',
      text: `instance ${instance.id} runs on the ${String(instance.driver)} driver, which boots no machine: nothing runs redis there (POWERNODE_HYPERVISOR=nspawn, or auto as root with systemd-container, boots one)`,
    });
    return {};
  }
  await waitUntil(
    'redis-server to be active on the instance',
    async () => {
      const { instance: now } = await ctx.client.call<{ instance: { services?: Array<{ name: string; state: string }> } }>('system_get_instance', {
        id: instance.id,
      });
      return now.services?.some((s) => s.name === 'redis-server.service' && s.state === 'active') === true;
    },
    60_000,
  );
  return checkOnInstance(ctx, instance.id, [
    ['systemctl', 'is-active', 'redis-server'],
    ['redis-cli', 'ping'],
  ]);
}
