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

  it('keeps draining when a different signal follows (Ctrl-C, then the supervisor’s SIGTERM), and exits at once on the same signal again', async () => {
    const exits: Array<number | string | null | undefined> = [];
    const realExit = process.exit;
    process.exit = ((code?: number | string | null) => {
      exits.push(code);
    }) as typeof process.exit;
    // Only this test's handlers may see the signals (the test above left its own installed).
    const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
    let release!: () => void;
    const draining = new Promise<void>((resolve) => (release = resolve));
    const closed: string[] = [];
    try {
      installGracefulShutdown(
        createLogger('shutdown-test', 'silent'),
        [
          {
            name: 'slow',
            close: async () => {
              await draining;
              closed.push('slow');
            },
          },
        ],
        { exit: false, timeoutMs: 5000 },
      );
      process.emit('SIGINT', 'SIGINT');
      process.emit('SIGTERM', 'SIGTERM');
      expect(exits).toEqual([]);
      process.emit('SIGINT', 'SIGINT');
      expect(exits).toEqual([130]);
      release();
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(closed).toEqual(['slow']);
    } finally {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.removeAllListeners(signal);
        for (const listener of before[signal]) process.on(signal, listener);
      }
      process.exit = realExit;
    }
  });
});
