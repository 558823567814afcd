import cluster, { type Worker } from 'node:cluster';
import { installGracefulShutdown, type Logger } from '@powernode/runtime';
import { ensureBootstrapAdminToken } from './auth/bootstrap-token.js';

/** What the primary sends a worker to stop it gracefully (a signal could reach a worker twice: see below). */
export const WORKER_SHUTDOWN_MESSAGE = 'powernode:shutdown';

/** More unexpected worker exits than this within a minute means they cannot run: give up instead of looping. */
const MAX_RESTARTS_PER_MINUTE = 5;
const STOP_TIMEOUT_MS = 15_000;

/**
 * Runs the gateway as `workers` processes sharing one listening port (Node cluster), each a complete gateway
 * with its own read models. The primary only forks them, replaces one that dies, and stops them all on
 * SIGTERM/SIGINT (with the same signal rules as every service). It settles the bootstrap admin token once, so
 * every worker accepts the same one.
 *
 * Workers are stopped with an IPC message rather than a signal: Ctrl-C in a terminal already sends SIGINT to
 * every process of the group, and a second signal makes a service exit at once instead of draining.
 */
export async function superviseGatewayWorkers(
  config: { POWERNODE_DATA_DIR: string; POWERNODE_ADMIN_TOKEN?: string | undefined; POWERNODE_GATEWAY_WORKERS: number },
  logger: Logger,
): Promise<void> {
  const bootstrap = ensureBootstrapAdminToken(config.POWERNODE_DATA_DIR, config.POWERNODE_ADMIN_TOKEN);
  const env = { POWERNODE_ADMIN_TOKEN: bootstrap.token };
  const restarts: number[] = [];
  let stopping = false;
  const workers = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

  const stopWorkers = async (): Promise<void> => {
    stopping = true;
    const alive = workers();
    const exited = alive.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
    for (const w of alive) if (w.isConnected()) w.send(WORKER_SHUTDOWN_MESSAGE);
    const timer = setTimeout(() => {
      logger.error('gateway workers did not stop in time; killing them');
      for (const w of alive) w.process.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await Promise.all(exited);
    clearTimeout(timer);
    logger.info('gateway workers stopped');
  };
  // The shutdown watchdog outlasts the workers' own deadline, so it only fires when killing them failed too.
  installGracefulShutdown(logger, [{ name: 'gateway workers', close: stopWorkers }], { timeoutMs: STOP_TIMEOUT_MS + 5000 });
  // However the primary ends (a forced second signal, the watchdog), no worker outlives it.
  process.on('exit', () => {
    for (const w of workers()) w.process.kill('SIGKILL');
  });

  const fork = (): Worker => cluster.fork(env);
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    const now = Date.now();
    restarts.push(now);
    while (restarts.length > 0 && restarts[0]! < now - 60_000) restarts.shift();
    if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
      logger.fatal(
        { pid: worker.process.pid, code, signal },
        `gateway workers exited ${restarts.length} times within a minute; giving up (see the errors above)`,
      );
      void stopWorkers().then(() => {
        logger.flush?.();
        process.exit(1);
      });
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'gateway worker exited; starting another');
    setTimeout(() => {
      if (!stopping) fork();
    }, 1000);
  });

  logger.info({ workers: config.POWERNODE_GATEWAY_WORKERS, admin_token_file: bootstrap.file ?? null }, 'starting gateway workers');
  for (let i = 0; i < config.POWERNODE_GATEWAY_WORKERS; i++) fork();
}
