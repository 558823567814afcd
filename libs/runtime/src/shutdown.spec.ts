import { createLogger } from './logger.js';
import { installGracefulShutdown } from './shutdown.js';

describe('graceful shutdown', () => {
  it('closes in order, keeps going past a failing closer, and leaves no watchdog behind in a process that lives on', async () => {
    const closed: string[] = [];
    const exits: Array<number | string | null | undefined> = [];
    // The watchdog would end the test runner itself: record its call instead.
    const realExit = process.exit;
    process.exit = ((code?: number | string | null) => {
      exits.push(code);
    }) as typeof process.exit;
    try {
      const shutdown = installGracefulShutdown(
        createLogger('shutdown-test', 'silent'),
        [
          { name: 'first', close: () => void closed.push('first') },
          { name: 'broken', close: () => Promise.reject(new Error('cannot close')) },
          { name: 'last', close: () => void closed.push('last') },
        ],
        { exit: false, timeoutMs: 50 },
      );
      await shutdown();
      await shutdown();
      expect(closed).toEqual(['first', 'last']);
      // Past the watchdog's deadline: a finished shutdown must not end the process afterwards.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(exits).toEqual([]);
    } finally {
      process.exit = realExit;
    }
  });
});
