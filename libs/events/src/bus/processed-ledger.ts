/**
 * Which event ids a durable consumer has fully handled. The consumer checks it before calling its handler
 * and records the id after the handler resolved, so a redelivered message (lost ack, republished event past
 * the duplicate window) is acknowledged without running the handler again.
 */
export interface ProcessedLedger {
  has(consumer: string, eventId: string): Promise<boolean>;
  add(consumer: string, eventId: string): Promise<void>;
}

/** In-process ledger for tests and single-process tools; forgotten on restart. */
export class MemoryProcessedLedger implements ProcessedLedger {
  private readonly seen = new Map<string, Set<string>>();

  async has(consumer: string, eventId: string): Promise<boolean> {
    return this.seen.get(consumer)?.has(eventId) ?? false;
  }

  async add(consumer: string, eventId: string): Promise<void> {
    let ids = this.seen.get(consumer);
    if (!ids) this.seen.set(consumer, (ids = new Set()));
    ids.add(eventId);
  }
}
