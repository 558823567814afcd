import 'reflect-metadata';
import cluster from 'node:cluster';
import { createLogger, gatewayConfigShape, loadConfigOrExit, startServiceHost } from '@powernode/runtime';
import { superviseGatewayWorkers, WORKER_SHUTDOWN_MESSAGE } from './gateway-workers.js';
import { startGateway } from './start-gateway.js';

const config = loadConfigOrExit('gateway', gatewayConfigShape);
if (cluster.isPrimary && config.POWERNODE_GATEWAY_WORKERS > 1) {
  await superviseGatewayWorkers(config, createLogger('gateway', config.LOG_LEVEL));
} else {
  const host = await startServiceHost({ service: 'gateway', shape: gatewayConfigShape });
  if (cluster.isWorker) {
    // A worker stops when its primary asks, or when the primary is gone (its IPC channel closed).
    process.on('message', (message) => {
      if (message === WORKER_SHUTDOWN_MESSAGE) void host.shutdown();
    });
    process.on('disconnect', () => void host.shutdown());
  }
  await startGateway(host);
}
