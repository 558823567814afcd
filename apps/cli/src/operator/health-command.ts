import type { Command } from 'commander';
import { RpcClient } from '@powernode/events';
import { baseConfigShape, natsAuthFromConfig, parseConfig } from '@powernode/runtime';

/** `powernode health --service NAME`: exit 0 when the service answers its ping over NATS (container health checks). */
export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description('check that a service answers over NATS (exit 0) or not (exit 1)')
    .requiredOption('--service <name>', 'catalog | ingest | provisioner')
    .action(async (o: { service: string }) => {
      const config = parseConfig(baseConfigShape);
      try {
        const rpc = await RpcClient.connect(
          config.NATS_URL.split(','),
          { default_timeout_ms: 3000, namespace: config.POWERNODE_BUS_NAMESPACE },
          natsAuthFromConfig(config),
        );
        try {
          await rpc.request(`${o.service}.ping`, {});
        } finally {
          await rpc.close();
        }
        process.stdout.write(`${o.service}: ok\n`);
      } catch (error) {
        process.stderr.write(`${o.service}: ${(error as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
