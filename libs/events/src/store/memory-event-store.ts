import { PowernodeError } from '@powernode/contracts';
import type { EventCatalogue } from '../catalogue.js';
import type { EventEnvelope, NewEvent } from '@powernode/event-core';
import { uuidv7 } from '../uuid7.js';
import type { AppendOptions, AppendResult, EventStore, ReadAllOptions, ReadStreamOptions, SubscribeAllOptions, Subscription } from './event-store.js';
import { checkAppendRequest, checkDistinctIds, checkExpectedVersion, toEnvelope } from './append-rules.js';
import { pollingSubscription } from './polling-subscription.js';
import { MemoryCheckpointStore } from './checkpoint-store.js';
import { MemoryProjectionStateStore } from './projection-state-store.js';

/** In-process store for unit tests: same semantics as the durable adapters, nothing survives the process. */
export class MemoryEventStore implements EventStore {
  readonly adapter = 'memory';
  readonly checkpoints = new MemoryCheckpointStore();
  readonly projections = new MemoryProjectionStateStore();
  private readonly log: EventEnvelope[] = [];
  private readonly streams = new Map<string, EventEnvelope[]>();
  private readonly ids = new Map<string, EventEnvelope>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly catalogue: EventCatalogue) {}

  async append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    checkAppendRequest(stream, options.expected);
    const validated = events.map((e) => this.catalogue.validate(e));
    checkDistinctIds(validated);
    const current = this.streams.get(stream) ?? [];
    const existing = validated.map((e) => (e.id ? this.ids.get(e.id) : undefined));
    if (validated.length > 0 && existing.every((e) => e !== undefined && e.stream === stream)) {
      return { next_expected_version: current.length, position: current[current.length - 1]?.position ?? 0, events: [] };
    }
    checkExpectedVersion(stream, options.expected, current.length);
    const dup = existing.find((e) => e !== undefined);
    if (dup) throw new PowernodeError('conflict', `event id ${dup.id} already stored in stream ${dup.stream}`, { details: { id: dup.id } });
    const stored: EventEnvelope[] = [];
    const ids = new Set<string>();
    for (const e of validated) {
      const id = e.id ?? uuidv7();
      if (ids.has(id)) throw new PowernodeError('invalid_event', `event id ${id} appears twice in one append`);
      ids.add(id);
      const envelope = toEnvelope(e, { id, stream, version: current.length + stored.length + 1, position: this.log.length + stored.length + 1 });
      stored.push(envelope);
    }
    for (const envelope of stored) {
      this.log.push(envelope);
      this.ids.set(envelope.id, envelope);
    }
    this.streams.set(stream, [...current, ...stored]);
    for (const l of this.listeners) l();
    return { next_expected_version: current.length + stored.length, position: this.log.length, events: stored };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    const all = this.streams.get(stream) ?? [];
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
    if (options.direction === 'backward') {
      const from = options.from_version ?? all.length;
      return all
        .filter((e) => e.version <= from)
        .reverse()
        .slice(0, limit);
    }
    const from = options.from_version ?? 1;
    return all.filter((e) => e.version >= from).slice(0, limit);
  }

  async streamVersion(stream: string): Promise<number> {
    return this.streams.get(stream)?.length ?? 0;
  }

  async readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    const after = options.after_position ?? 0;
    return this.log.slice(after, after + (options.limit ?? Number.MAX_SAFE_INTEGER));
  }

  async headPosition(): Promise<number> {
    return this.log.length;
  }

  subscribeAll(options: SubscribeAllOptions): Subscription {
    return pollingSubscription(
      {
        readAll: (o) => this.readAll(o),
        onAppend: (l) => {
          this.listeners.add(l);
          return () => this.listeners.delete(l);
        },
      },
      options,
      50,
    );
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
