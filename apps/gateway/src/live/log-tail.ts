import type { EventStore, Subscription } from '@powernode/events';

/**
 * One subscription to the store's global log, shared by every open event stream of this gateway: each stream
 * reads its own events from the store, and waits here only to learn that the log has grown past what it has
 * sent. The subscription is started on first use, so a gateway nobody watches does not poll for them.
 */
export class LogTail {
  private subscription: Subscription | undefined;
  private head = 0;
  private readonly waiters = new Set<{ after: number; wake: () => void }>();
  private stopped = false;

  constructor(private readonly store: EventStore) {}

  /** Position of the last event the tail has seen (0 before the first). */
  get position(): number {
    return this.head;
  }

  /** True once the gateway is shutting down: open streams end so the HTTP server can close. */
  get closed(): boolean {
    return this.stopped;
  }

  /**
   * Resolves once the log holds an event after `after`, when `timeoutMs` passes (a stream sends a keep-alive
   * then), or when `signal` aborts (the client went away).
   */
  async grownPast(after: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    await this.start();
    if (this.head > after || signal.aborted || this.stopped) return;
    await new Promise<void>((resolve) => {
      const waiter = { after, wake: () => done() };
      const timer = setTimeout(() => done(), timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(waiter);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Ends every wait and stops the subscription; idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    const subscription = this.subscription;
    this.subscription = undefined;
    for (const waiter of [...this.waiters]) waiter.wake();
    await subscription?.stop();
  }

  private async start(): Promise<void> {
    if (this.subscription || this.stopped) return;
    this.head = await this.store.headPosition();
    if (this.subscription || this.stopped) return;
    this.subscription = this.store.subscribeAll({
      after_position: this.head,
      onEvents: (events) => {
        this.head = events[events.length - 1]!.position;
        for (const waiter of [...this.waiters]) if (this.head > waiter.after) waiter.wake();
      },
    });
  }
}
