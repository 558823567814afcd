import type { KurrentDBClient } from '@kurrent/kurrentdb-client';
import type { KurrentClientModule } from './kurrent-event-store.js';
import type { CheckpointStore } from './checkpoint-store.js';
import { checkConsumerName, checkPosition, encodeProjectionState } from './consumer-state-rules.js';
import { isMissingStream, kurrentFailure } from './kurrent-failure.js';
import type { ProjectionSnapshot, ProjectionStateStore } from './projection-state-store.js';

/** Streams holding checkpoints and projection snapshots; excluded from the global log the store exposes. */
export const INTERNAL_STREAM_PREFIX = 'powernode-internal-';

// Only the latest value matters; KurrentDB may scavenge older ones.
const KEEP_LAST = 4;

/** Reads the data of a stream's last event, or undefined when the stream is missing or deleted. */
async function readLast(client: KurrentDBClient, stream: string): Promise<Record<string, unknown> | undefined> {
  try {
    for await (const resolved of client.readStream(stream, { direction: 'backwards', fromRevision: 'end', maxCount: 1 })) {
      return resolved.event?.data as Record<string, unknown> | undefined;
    }
  } catch (cause) {
    if (isMissingStream(cause)) return undefined;
    throw cause;
  }
  return undefined;
}

/** Appends a value event, capping the stream's length the first time this process writes to it. */
async function writeLast(
  kurrent: KurrentClientModule,
  client: KurrentDBClient,
  capped: Set<string>,
  stream: string,
  type: string,
  data: Record<string, unknown>,
): Promise<void> {
  await client.appendToStream(stream, kurrent.jsonEvent({ type, data }), { streamState: 'any' });
  if (!capped.has(stream)) {
    await client.setStreamMetadata(stream, { maxCount: KEEP_LAST });
    capped.add(stream);
  }
}

/** Checkpoints as `powernode-internal-checkpoint-<name>` streams (the last event holds the position). */
export class KurrentCheckpointStore implements CheckpointStore {
  private readonly capped = new Set<string>();

  constructor(
    private readonly kurrent: KurrentClientModule,
    private readonly client: KurrentDBClient,
  ) {}

  async get(name: string): Promise<number> {
    checkConsumerName('checkpoint', name);
    try {
      const data = await readLast(this.client, `${INTERNAL_STREAM_PREFIX}checkpoint-${name}`);
      return typeof data?.position === 'number' ? data.position : 0;
    } catch (cause) {
      throw kurrentFailure(`checkpoint read of ${name}`, cause);
    }
  }

  async set(name: string, position: number): Promise<void> {
    checkConsumerName('checkpoint', name);
    checkPosition('checkpoint', name, position);
    try {
      await writeLast(this.kurrent, this.client, this.capped, `${INTERNAL_STREAM_PREFIX}checkpoint-${name}`, 'PowernodeCheckpointSet', { position });
    } catch (cause) {
      throw kurrentFailure(`checkpoint write of ${name}`, cause);
    }
  }
}

/** Projection snapshots as `powernode-internal-projection-<name>` streams; dropping soft-deletes the stream. */
export class KurrentProjectionStateStore implements ProjectionStateStore {
  private readonly capped = new Set<string>();

  constructor(
    private readonly kurrent: KurrentClientModule,
    private readonly client: KurrentDBClient,
  ) {}

  async load(name: string): Promise<ProjectionSnapshot | undefined> {
    checkConsumerName('projection', name);
    let data: Record<string, unknown> | undefined;
    try {
      data = await readLast(this.client, `${INTERNAL_STREAM_PREFIX}projection-${name}`);
    } catch (cause) {
      throw kurrentFailure(`projection read of ${name}`, cause);
    }
    return data === undefined ? undefined : { state: JSON.parse(data.state as string) as unknown, position: data.position as number };
  }

  async save(name: string, state: unknown, position: number): Promise<void> {
    checkConsumerName('projection', name);
    checkPosition('projection', name, position);
    // Kept as JSON text so the snapshot reads back exactly as the other adapters give it.
    const json = encodeProjectionState(name, state);
    try {
      await writeLast(this.kurrent, this.client, this.capped, `${INTERNAL_STREAM_PREFIX}projection-${name}`, 'PowernodeProjectionStateSaved', {
        state: json,
        position,
      });
    } catch (cause) {
      throw kurrentFailure(`projection write of ${name}`, cause);
    }
  }

  async drop(name: string): Promise<void> {
    checkConsumerName('projection', name);
    try {
      await this.client.deleteStream(`${INTERNAL_STREAM_PREFIX}projection-${name}`);
    } catch (cause) {
      if (isMissingStream(cause)) return;
      throw kurrentFailure(`projection drop of ${name}`, cause);
    }
    // A deleted stream's metadata is reset when it is recreated: cap it again on the next save.
    this.capped.delete(`${INTERNAL_STREAM_PREFIX}projection-${name}`);
  }
}
