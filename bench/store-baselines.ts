// The raw ceilings the event store figures are held against, each measured on this machine in the same run:
// the disk's fsync rate, one-row durable SQLite transactions through better-sqlite3, and one-row INSERTs
// through pgbench. An adapter adds validation, envelopes, concurrency checks and positions on top of these, so
// its ratio to them says how much of the storage engine's speed it keeps.
import { execFile } from 'node:child_process';
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';

export interface Rate {
  count: number;
  seconds: number;
  perSecond: number;
}

/** One JSON document of the size the event benchmarks append (~150 bytes), for the raw baselines to write. */
export const BASELINE_DOCUMENT = JSON.stringify({ n: 1, module: 'module-1', digest: `sha256:${'ab'.repeat(32)}` });

/** Write+fdatasync of 4 KiB in a loop for ~1 s: the ceiling for one-commit-one-fsync appends on this disk. */
export function diskFsyncRate(dir: string): Rate {
  const fd = openSync(join(dir, 'fsync-probe'), 'w');
  const block = randomBytes(4096);
  const start = performance.now();
  let count = 0;
  try {
    while (performance.now() - start < 1000) {
      writeSync(fd, block, 0, block.length, (count % 16) * 4096);
      fdatasyncSync(fd);
      count++;
    }
  } finally {
    closeSync(fd);
  }
  const seconds = (performance.now() - start) / 1000;
  return { count, seconds, perSecond: count / seconds };
}

/**
 * One-row INSERTs, each its own transaction, through better-sqlite3 with synchronous=FULL: what one writer gets
 * from SQLite with nothing on top. `wal` is the store's own journal mode; `delete` is better-sqlite3's default
 * rollback journal, which pays more fsyncs per commit.
 */
export function sqliteInsertRate(path: string, journal: 'wal' | 'delete', maxCount: number, maxSeconds: number): Rate {
  const db = new Database(path);
  try {
    db.pragma(`journal_mode = ${journal}`);
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY, stream TEXT NOT NULL, data TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO scratch (stream, data) VALUES (?, ?)');
    const start = performance.now();
    let count = 0;
    while (count < maxCount && performance.now() - start < maxSeconds * 1000) {
      insert.run(`stream-${count % 1000}`, BASELINE_DOCUMENT);
      count++;
    }
    const seconds = (performance.now() - start) / 1000;
    return { count, seconds, perSecond: count / seconds };
  } finally {
    db.close();
  }
}

/** The pgbench to run: POWERNODE_BENCH_PGBENCH, else the one on PATH. */
function pgbenchCommand(): string {
  return process.env.POWERNODE_BENCH_PGBENCH || 'pgbench';
}

/**
 * `pgbench -c 1` running a one-row INSERT into a scratch table in `schema` for `seconds` (prepared statements,
 * the server's own synchronous_commit): what one client gets from PostgreSQL with nothing on top. Throws when
 * pgbench is missing or fails, with its output.
 */
export async function pgbenchInsertRate(url: string, schema: string, seconds: number): Promise<Rate> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // The document is the column default: pgbench would read the colons inside it as :variables.
    const document = BASELINE_DOCUMENT.replaceAll("'", "''");
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${schema}".pgbench_scratch (id bigserial PRIMARY KEY, stream text NOT NULL, data json NOT NULL DEFAULT '${document}')`,
    );
  } finally {
    await client.end();
  }
  const dir = await mkdtemp(join(tmpdir(), 'powernode-bench-pgbench-'));
  try {
    const script = join(dir, 'insert.sql');
    await writeFile(script, `\\set n random(1, 1000)\nINSERT INTO "${schema}".pgbench_scratch (stream) VALUES ('stream-' || :n);\n`);
    const { stdout } = await promisify(execFile)(
      pgbenchCommand(),
      ['-n', '-M', 'prepared', '-c', '1', '-T', String(Math.max(1, Math.round(seconds))), '-f', script, url],
      {
        encoding: 'utf8',
      },
    );
    const processed = /number of transactions actually processed: (\d+)/.exec(stdout);
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
    if (processed === null || tps === null) throw new Error(`pgbench printed no rate: ${stdout.trim()}`);
    const perSecond = Number(tps[1]);
    const count = Number(processed[1]);
    return { count, seconds: count / perSecond, perSecond };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
