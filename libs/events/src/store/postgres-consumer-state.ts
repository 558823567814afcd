import type pg from 'pg';
import type { CheckpointStore } from './checkpoint-store.js';
import { checkConsumerName, checkPosition, encodeProjectionState } from './consumer-state-rules.js';
import { postgresFailure } from './postgres-failure.js';
import type { PostgresLayout } from './postgres-schema.js';
import type { ProjectionSnapshot, ProjectionStateStore } from './projection-state-store.js';

/** Checkpoints in the `checkpoints` table of the PostgreSQL event store schema. */
export class PostgresCheckpointStore implements CheckpointStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly layout: PostgresLayout,
  ) {}

  async get(name: string): Promise<number> {
    checkConsumerName('checkpoint', name);
    try {
      const r = await this.pool.query<{ position: string }>(`SELECT position FROM ${this.layout.q}checkpoints WHERE name = $1`, [name]);
      return r.rows.length === 0 ? 0 : Number(r.rows[0]!.position);
    } catch (cause) {
      throw postgresFailure(`checkpoint read of ${name}`, cause);
    }
  }

  async set(name: string, position: number): Promise<void> {
    checkConsumerName('checkpoint', name);
    checkPosition('checkpoint', name, position);
    try {
      await this.pool.query(
        `INSERT INTO ${this.layout.q}checkpoints (name, position) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()`,
        [name, position],
      );
    } catch (cause) {
      throw postgresFailure(`checkpoint write of ${name}`, cause);
    }
  }
}

/** Projection snapshots in the `projection_states` table of the PostgreSQL event store schema. */
export class PostgresProjectionStateStore implements ProjectionStateStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly layout: PostgresLayout,
  ) {}

  async load(name: string): Promise<ProjectionSnapshot | undefined> {
    checkConsumerName('projection', name);
    let rows: { state: string; position: string }[];
    try {
      // state::text: parse it ourselves so every adapter decodes snapshots the same way.
      rows = (
        await this.pool.query<{ state: string; position: string }>(
          `SELECT state::text AS state, position FROM ${this.layout.q}projection_states WHERE name = $1`,
          [name],
        )
      ).rows;
    } catch (cause) {
      throw postgresFailure(`projection read of ${name}`, cause);
    }
    return rows.length === 0 ? undefined : { state: JSON.parse(rows[0]!.state) as unknown, position: Number(rows[0]!.position) };
  }

  async save(name: string, state: unknown, position: number): Promise<void> {
    checkConsumerName('projection', name);
    checkPosition('projection', name, position);
    const json = encodeProjectionState(name, state);
    try {
      await this.pool.query(
        `INSERT INTO ${this.layout.q}projection_states (name, state, position) VALUES ($1, $2::json, $3)
         ON CONFLICT (name) DO UPDATE SET state = excluded.state, position = excluded.position, updated_at = now()`,
        [name, json, position],
      );
    } catch (cause) {
      throw postgresFailure(`projection write of ${name}`, cause);
    }
  }

  async drop(name: string): Promise<void> {
    checkConsumerName('projection', name);
    try {
      await this.pool.query(`DELETE FROM ${this.layout.q}projection_states WHERE name = $1`, [name]);
    } catch (cause) {
      throw postgresFailure(`projection drop of ${name}`, cause);
    }
  }
}
