import { INGEST_RPCS } from '@powernode/contracts';
import { rpcHandlerTable, type RpcTransportHandler } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import type { ModuleBuildIngest } from './module-build-ingest.js';

/** Ingest's commands on NATS, one handler per declaration in `INGEST_RPCS`: re-verify a version, and a liveness ping. */
export function ingestRpcHandlers({ ingest, logger }: { ingest: ModuleBuildIngest; logger: Logger }): Map<string, RpcTransportHandler> {
  return rpcHandlerTable(
    INGEST_RPCS,
    {
      reverifyVersion: ({ input, actor }, c) => ingest.reverify(input.id, actor, c.correlation_id),
      ping: () => ({ service: 'ingest', ok: true }),
    },
    { logger },
  );
}
