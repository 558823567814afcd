import type { Command } from 'commander';
import { isPowernodeError, PROJECTION_OWNERS } from '@powernode/contracts';
import { openEventStore, powernodeEventCatalogue, RpcClient, type EventStore } from '@powernode/events';
import { baseConfigShape, natsAuthFromConfig, parseConfig } from '@powernode/runtime';

/**
 * `powernode replay [--projection NAME]`: running services rebuild their read models from position 0 in place;
 * for a service that is not running, its saved states are dropped so it rebuilds them when it next starts.
 */
export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('rebuild read models (projections) from the event store')
    .option('--projection <name>', `only this projection (${PROJECTION_OWNERS.flatMap((o) => o.projections).join(', ')})`)
    .action(async (o: { projection?: string }) => {
      const owners = o.projection ? PROJECTION_OWNERS.filter((owner) => (owner.projections as readonly string[]).includes(o.projection!)) : PROJECTION_OWNERS;
      if (owners.length === 0) {
        process.stderr.write(`powernode: no projection named ${o.projection}; known: ${PROJECTION_OWNERS.flatMap((x) => x.projections).join(', ')}\n`);
        process.exitCode = 1;
        return;
      }
      const config = parseConfig(baseConfigShape);
      const auth = natsAuthFromConfig(config);
      let rpc: RpcClient | undefined;
      try {
        rpc = await RpcClient.connect(config.NATS_URL.split(','), { default_timeout_ms: 300_000, namespace: config.POWERNODE_BUS_NAMESPACE }, auth);
      } catch {
        rpc = undefined;
      }
      let store: EventStore | undefined;
      let failed = false;
      for (const owner of owners) {
        try {
          if (!rpc) throw Object.assign(new Error('NATS unreachable'), { code: 'rpc_no_responder' });
          process.stderr.write(`replaying ${owner.service} projections${o.projection ? ` (${o.projection})` : ''}…\n`);
          const result = await rpc.request<{ rebuilt: { projection: string; position: number }[] }>(
            owner.replay,
            o.projection ? { projection: o.projection } : {},
          );
          for (const r of result.rebuilt) process.stdout.write(`${r.projection}: rebuilt up to position ${r.position}\n`);
        } catch (error) {
          const code = isPowernodeError(error) ? error.code : (error as { code?: string }).code;
          if (code !== 'rpc_no_responder') {
            process.stderr.write(`powernode: ${owner.service}: ${(error as Error).message}\n`);
            failed = true;
            continue;
          }
          store ??= await openEventStore(config.EVENT_STORE_URL, powernodeEventCatalogue());
          for (const name of o.projection ? [o.projection] : owner.projections) {
            await store.projections.drop(name);
            process.stdout.write(`${name}: saved state dropped; ${owner.service} is not running and rebuilds it from position 0 when it starts\n`);
          }
        }
      }
      await rpc?.close();
      await store?.close();
      process.exitCode = failed ? 1 : 0;
    });
}
