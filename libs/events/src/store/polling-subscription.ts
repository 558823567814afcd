import type { EventEnvelope } from '@powernode/event-core';
import type { SubscribeAllOptions, Subscription } from './event-store.js';

export interface PollingSource {
  readAll(options: { after_position: number; limit: number }): Promise<EventEnvelope[]>;
  /** Registers a wake-up for appends made through this process; returns the unregister function. */
  onAppend?(listener: () => void): () => void;
}

/**
 * Catch-up-then-live subscription shared by every adapter: read batches until the head, then wait for an
 * in-process append signal or the poll interval (appends by other processes are seen by polling).
 */
export function pollingSubscription(source: PollingSource, options: SubscribeAllOptions, pollIntervalMs: number): Subscription {
  let position = options.after_position ?? 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  // An append signalled while a batch is being handled must not be lost: remember it and skip the sleep.
  let signalled = false;
  let resolveCaughtUp!: () => void;
  const caughtUp = new Promise<void>((r) => (resolveCaughtUp = r));
  const batchSize = options.batch_size ?? 1000;
  const unregister = source.onAppend?.(() => {
    signalled = true;
    wake?.();
  });

  const loop = (async () => {
    while (!stopped) {
      signalled = false;
      try {
        const events = await source.readAll({ after_position: position, limit: batchSize });
        if (stopped) break;
        if (events.length > 0) {
          await options.onEvents(events);
          position = events[events.length - 1]!.position;
          if (events.length === batchSize) continue;
        }
        resolveCaughtUp();
      } catch (error) {
        options.onError?.(error);
      }
      if (stopped) break;
      if (signalled) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollIntervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  })();

  return {
    get position() {
      return position;
    },
    caughtUp,
    poll() {
      signalled = true;
      wake?.();
    },
    async stop() {
      stopped = true;
      wake?.();
      unregister?.();
      await loop;
    },
  };
}

/**
 * The open subscriptions of one store instance and the in-process append signal that wakes them: the adapter
 * signals `appended()` after each commit (or when another process's append is announced) and stops them all
 * when it closes, so no subscription outlives its store.
 */
export class LogSubscriptions {
  private readonly listeners = new Set<() => void>();
  private readonly open = new Set<Subscription>();

  /** A catch-up-then-live subscription over `readAll`, kept in this set until it is stopped. */
  subscribe(readAll: PollingSource['readAll'], options: SubscribeAllOptions, pollIntervalMs: number): Subscription {
    const inner = pollingSubscription(
      {
        readAll,
        onAppend: (l) => {
          this.listeners.add(l);
          return () => this.listeners.delete(l);
        },
      },
      options,
      pollIntervalMs,
    );
    const open = this.open;
    const subscription: Subscription = {
      get position() {
        return inner.position;
      },
      caughtUp: inner.caughtUp,
      poll: () => inner.poll(),
      async stop() {
        open.delete(subscription);
        await inner.stop();
      },
    };
    open.add(subscription);
    return subscription;
  }

  /** How many subscriptions are open (a store keeps its append wake-up only while someone listens). */
  get size(): number {
    return this.open.size;
  }

  /** Wakes every subscription waiting for the next append, instead of at its next poll. */
  appended(): void {
    for (const l of this.listeners) l();
  }

  /** Stops every open subscription and waits for each to finish its current batch. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.open].map((s) => s.stop()));
  }

  /** Forgets every wake-up (the store is closed). */
  clear(): void {
    this.listeners.clear();
  }
}
