import type Database from 'better-sqlite3';
import type { CheckpointStore } from './checkpoint-store.js';
import { checkConsumerName, checkPosition, encodeProjectionState } from './consumer-state-rules.js';
import type { ProjectionSnapshot, ProjectionStateStore } from './projection-state-store.js';
import { sqliteFailure } from './sqlite-failure.js';

/** Checkpoints in the `checkpoints` table of the SQLite event store file. */
export class SqliteCheckpointStore implements CheckpointStore {
  private readonly select;
  private readonly upsert;

  constructor(
    db: Database.Database,
    private readonly assertOpen: () => void,
  ) {
    this.select = db.prepare<[string], number>('SELECT position FROM checkpoints WHERE name = ?').pluck();
    this.upsert = db.prepare<[string, number, string]>(
      'INSERT INTO checkpoints (name, position, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at',
    );
  }

  async get(name: string): Promise<number> {
    this.assertOpen();
    checkConsumerName('checkpoint', name);
    try {
      return this.select.get(name) ?? 0;
    } catch (cause) {
      throw sqliteFailure(`checkpoint read of ${name}`, cause);
    }
  }

  async set(name: string, position: number): Promise<void> {
    this.assertOpen();
    checkConsumerName('checkpoint', name);
    checkPosition('checkpoint', name, position);
    try {
      this.upsert.run(name, position, new Date().toISOString());
    } catch (cause) {
      throw sqliteFailure(`checkpoint write of ${name}`, cause);
    }
  }
}

/** Projection snapshots in the `projection_states` table of the SQLite event store file. */
export class SqliteProjectionStateStore implements ProjectionStateStore {
  private readonly select;
  private readonly upsert;
  private readonly remove;

  constructor(
    db: Database.Database,
    private readonly assertOpen: () => void,
  ) {
    this.select = db.prepare<[string], { state: string; position: number }>('SELECT state, position FROM projection_states WHERE name = ?');
    this.upsert = db.prepare<[string, string, number, string]>(
      'INSERT INTO projection_states (name, state, position, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET state = excluded.state, position = excluded.position, updated_at = excluded.updated_at',
    );
    this.remove = db.prepare<[string]>('DELETE FROM projection_states WHERE name = ?');
  }

  async load(name: string): Promise<ProjectionSnapshot | undefined> {
    this.assertOpen();
    checkConsumerName('projection', name);
    let row: { state: string; position: number } | undefined;
    try {
      row = this.select.get(name);
    } catch (cause) {
      throw sqliteFailure(`projection read of ${name}`, cause);
    }
    return row === undefined ? undefined : { state: JSON.parse(row.state) as unknown, position: row.position };
  }

  async save(name: string, state: unknown, position: number): Promise<void> {
    this.assertOpen();
    checkConsumerName('projection', name);
    checkPosition('projection', name, position);
    const json = encodeProjectionState(name, state);
    try {
      this.upsert.run(name, json, position, new Date().toISOString());
    } catch (cause) {
      throw sqliteFailure(`projection write of ${name}`, cause);
    }
  }

  async drop(name: string): Promise<void> {
    this.assertOpen();
    checkConsumerName('projection', name);
    try {
      this.remove.run(name);
    } catch (cause) {
      throw sqliteFailure(`projection drop of ${name}`, cause);
    }
  }
}
