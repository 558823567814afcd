import { checkConsumerName, checkPosition, encodeProjectionState } from './consumer-state-rules.js';

/** A projection's read-model document and the global position it reflects. */
export interface ProjectionSnapshot {
  state: unknown;
  position: number;
}

/**
 * One JSON document per projection, saved with the position of the last event folded into it, so a projection
 * restarts from its snapshot instead of replaying the whole log; dropping it forces a full rebuild.
 */
export interface ProjectionStateStore {
  /** The last saved snapshot, or undefined when the projection has none (never saved or dropped). */
  load(name: string): Promise<ProjectionSnapshot | undefined>;
  /** Replaces the snapshot. `state` must be JSON-serialisable; it is read back as JSON would give it. */
  save(name: string, state: unknown, position: number): Promise<void>;
  /** Deletes the snapshot; a no-op when there is none. */
  drop(name: string): Promise<void>;
}

/** In-process snapshots for tests; stores the JSON text so loads behave exactly like the durable adapters. */
export class MemoryProjectionStateStore implements ProjectionStateStore {
  private readonly documents = new Map<string, { json: string; position: number }>();

  async load(name: string): Promise<ProjectionSnapshot | undefined> {
    checkConsumerName('projection', name);
    const doc = this.documents.get(name);
    return doc === undefined ? undefined : { state: JSON.parse(doc.json) as unknown, position: doc.position };
  }

  async save(name: string, state: unknown, position: number): Promise<void> {
    checkConsumerName('projection', name);
    checkPosition('projection', name, position);
    this.documents.set(name, { json: encodeProjectionState(name, state), position });
  }

  async drop(name: string): Promise<void> {
    checkConsumerName('projection', name);
    this.documents.delete(name);
  }
}
