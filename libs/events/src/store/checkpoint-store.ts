import { checkConsumerName, checkPosition } from './consumer-state-rules.js';

/**
 * Where a consumer of the global log (the bus relay, a projection runner) remembers the position of the last
 * event it handled. Kept in the same durable database as the events, so both survive or vanish together.
 */
export interface CheckpointStore {
  /** The saved position, or 0 when the consumer has never saved one. */
  get(name: string): Promise<number>;
  /** Saves the position (overwrites; a smaller value is allowed so a replay can restart from 0). */
  set(name: string, position: number): Promise<void>;
}

/** In-process checkpoints for tests. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly positions = new Map<string, number>();

  async get(name: string): Promise<number> {
    checkConsumerName('checkpoint', name);
    return this.positions.get(name) ?? 0;
  }

  async set(name: string, position: number): Promise<void> {
    checkConsumerName('checkpoint', name);
    checkPosition('checkpoint', name, position);
    this.positions.set(name, position);
  }
}
