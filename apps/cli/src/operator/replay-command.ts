import type { Command } from 'commander';
import { CATALOG_RPC, isPowernodeError, PROVISIONER_RPC } from '@powernode/contracts';
import { openEventStore, powernodeEventCatalogue, RpcClient } from '@powernode/events';
import { baseConfigShape, parseConfig } from '@powernode/runtime';

/** Services that own projections and rebuild them on request. */
const OWNERS = [
  { service: 'catalog', pattern: CATALOG_RPC.replay },
  { service: 'provisioner', pattern: PROVISIONER_RPC.replay },
];

/**
 * `powernode replay [--projection NAME]`: running services rebuild their read models from position 0 in place;
 * when a service is not running, its saved state is dropped so it rebuilds on its next start.
 */
export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('rebuild read models (projections) from the event store')
    .option('--projection <name>', 'only this projection (e.g. catalog-modules)')
    .action(async (o: { projection?: string }) => {
      const config = parseConfig(baseConfigShape);
      let rpc: RpcClient | undefined;
      try {
        rpc = await RpcClient.connect(config.NATS_URL.split(','), { default_timeout_ms: 120_000 });
      } catch {
        rpc = undefined;
      }
      let failed = false;
      let handled = false;
      for (const owner of OWNERS) {
        try {
          if (!rpc) throw Object.assign(new Error('NATS unreachable'), { code: 'rpc_no_responder' });
          process.stderr.write(`replaying ${owner.service} projections${o.projection ? ` (${o.projection})` : ''}…\n`);
          const result = await rpc.request<{ rebuilt: { projection: string; position: number }[] }>(owner.pattern, o.projection ? { projection: o.projection } : {});
          for (const r of result.rebuilt) process.stdout.write(`${r.projection}: rebuilt up to position ${r.position}\n`);
          handled = true;
        } catch (error) {
          const code = isPowernodeError(error) ? error.code : (error as { code?: string }).code;
          if (code === 'not_found') continue;
          if (code !== 'rpc_no_responder') {
            process.stderr.write(`powernode: ${owner.service}: ${(error as Error).message}\n`);
            failed = true;
            continue;
          }
          if (!o.projection) {
            process.stderr.write(`powernode: ${owner.service} is not running; name the projection to drop with --projection so it is rebuilt at its next start\n`);
            failed = true;
            continue;
          }
          const store = await openEventStore(config.EVENT_STORE_URL, powernodeEventCatalogue());
          try {
            await store.projections.drop(o.projection);
          } finally {
            await store.close();
          }
          process.stdout.write(`${o.projection}: saved state dropped; ${owner.service} rebuilds it from position 0 when it starts\n`);
          handled = true;
        }
      }
      await rpc?.close();
      if (o.projection && !handled && !failed) {
        process.stderr.write(`powernode: no service owns a projection named ${o.projection}\n`);
        failed = true;
      }
      process.exitCode = failed ? 1 : 0;
    });
}
