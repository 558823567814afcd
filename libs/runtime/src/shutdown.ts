import type { Logger } from 'pino';

export type Closer = { name: string; close: () => Promise<unknown> | unknown };

/**
 * Runs closers in order on SIGTERM/SIGINT (once; the same signal again forces exit) so NATS is drained and the
 * store closed before the process ends. Returns a function that performs the same shutdown on demand.
 */
export function installGracefulShutdown(logger: Logger, closers: Closer[], options: { timeoutMs?: number; exit?: boolean } = {}): () => Promise<void> {
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (signal: string): Promise<void> => {
    if (shuttingDown) return shuttingDown;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ signal }, 'shutdown timed out; exiting');
      process.exit(1);
    }, options.timeoutMs ?? 10_000);
    timer.unref();
    shuttingDown = (async () => {
      for (const closer of closers) {
        try {
          await closer.close();
        } catch (error) {
          logger.warn({ err: error, closer: closer.name }, 'error while closing');
        }
      }
      // Done in time: the watchdog must not fire later in a process that lives on (tests, embedded use).
      clearTimeout(timer);
      logger.info('stopped');
      logger.flush?.();
      if (options.exit !== false) process.exit(0);
    })();
    return shuttingDown;
  };
  let first: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    // The same signal twice (Ctrl-C pressed again) forces the exit. A different one does not: Ctrl-C reaches
    // every process of the terminal's group, and a supervisor stopping its children sends SIGTERM as well.
    if (shuttingDown && signal === first) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    if (shuttingDown) {
      logger.info({ signal }, 'already shutting down');
      return;
    }
    first = signal;
    void shutdown(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => shutdown('manual');
}
