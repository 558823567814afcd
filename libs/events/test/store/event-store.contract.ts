// The one behavioural contract of the EventStore port, run against every adapter (memory, SQLite, PostgreSQL,
// KurrentDB). Every test writes to streams named after a per-run id, so it also holds on a shared server whose
// global log carries other writers' events.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isPowernodeError } from '@powernode/contracts';
import type { EventEnvelope, NewEvent } from '@powernode/event-core';
import type { EventStore } from '../../src/store/event-store.js';
import type { OpenEventStoreOptions } from '../../src/store/open-event-store.js';
import { uuidFromName, uuidv7 } from '../../src/uuid7.js';
import type { AppendWorkerTask } from './fixtures/append-worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../../..');

/** A store under test and how to reach it again, from this process or another. */
export interface EventStoreFixture {
  /** A store whose streams named by this run are empty. */
  store: EventStore;
  /** How another OS process opens the same store (required when `multiProcess`). */
  shared?: { url: string; options?: OpenEventStoreOptions };
  /** Opens a second, independent handle on the same store (required when `multiProcess`). */
  reopen?: () => Promise<EventStore>;
  /** Closes every handle and removes what the fixture created (temp directory, schema). */
  dispose(): Promise<void>;
}

export interface EventStoreContractOptions {
  /** When set, every test is reported as skipped and this reason is part of the suite's name. */
  skipReason?: string;
  /** Positions are consecutive (no gaps). Default true; KurrentDB's commit positions have gaps. */
  gaplessPositions?: boolean;
  /** An event id already stored on one stream is refused on another. Default true. */
  uniqueIdsAcrossStreams?: boolean;
  /** Several handles and OS processes can open the store (`shared` and `reopen` are given). Default false. */
  multiProcess?: boolean;
}

/** Declares the EventStore contract suite for one adapter. */
export function describeEventStoreContract(name: string, factory: () => Promise<EventStoreFixture>, options: EventStoreContractOptions = {}): void {
  const gapless = options.gaplessPositions ?? true;
  const uniqueIds = options.uniqueIdsAcrossStreams ?? true;
  const multiProcess = options.multiProcess ?? false;
  const describeOrSkip = options.skipReason === undefined ? describe : describe.skip;
  const title = options.skipReason === undefined ? `${name} event store contract` : `${name} event store contract (skipped: ${options.skipReason})`;

  describeOrSkip(title, () => {
    const run = randomBytes(4).toString('hex');
    let counter = 0;
    const streamName = (label: string) => `contract-${run}-${label}-${++counter}`;
    let fixture: EventStoreFixture;
    let store: EventStore;

    beforeAll(async () => {
      fixture = await factory();
      store = fixture.store;
    }, 60_000);

    afterAll(async () => {
      await fixture?.dispose();
    }, 60_000);

    describe('appending and reading a stream', () => {
      it('assigns versions 1..n and increasing positions, and reads the events back as stored', async () => {
        const s = streamName('basic');
        const result = await store.append(s, [event(1), event(2), event(3)], { expected: 'no_stream' });
        expect(result.next_expected_version).toBe(3);
        expect(result.events.map((e) => e.version)).toEqual([1, 2, 3]);
        expectIncreasing(result.events.map((e) => e.position));
        expect(result.position).toBe(result.events[2]!.position);
        expect(await store.readStream(s)).toEqual(result.events);
        expect(await store.streamVersion(s)).toBe(3);
      });

      it('fills envelope defaults from the catalogue and keeps the provenance the writer gives', async () => {
        const s = streamName('envelope');
        const causation = uuidv7();
        const { events } = await store.append(
          s,
          [
            event(1),
            {
              type: 'TestNote',
              data: { note: 'with provenance' },
              occurred_at: '2024-05-06T07:08:09.123Z',
              correlation_id: 'corr-1',
              causation_id: causation,
              actor: 'user:alice',
            },
          ],
          { expected: 'no_stream' },
        );
        const [plain, noted] = await store.readStream(s);
        expect(plain).toEqual(events[0]);
        expect(plain).toMatchObject({ stream: s, type: 'TestEvent', schema_version: 2, actor: 'system', causation_id: null, data: { n: 1 } });
        expect(plain!.correlation_id).toBe(plain!.id);
        expect(Number.isNaN(Date.parse(plain!.occurred_at))).toBe(false);
        expect(noted).toMatchObject({
          type: 'TestNote',
          schema_version: 1,
          occurred_at: '2024-05-06T07:08:09.123Z',
          correlation_id: 'corr-1',
          causation_id: causation,
          actor: 'user:alice',
          data: { note: 'with provenance' },
        });
      });

      it('reports version 0 and no events for a stream that does not exist', async () => {
        const s = streamName('missing');
        expect(await store.streamVersion(s)).toBe(0);
        expect(await store.readStream(s)).toEqual([]);
        expect(await store.readStream(s, { direction: 'backward' })).toEqual([]);
      });

      it('reads forward and backward from a version, with limits', async () => {
        const s = streamName('ranges');
        await store.append(s, [1, 2, 3, 4, 5, 6].map(event), { expected: 'no_stream' });
        const versions = async (o: Parameters<EventStore['readStream']>[1]) => (await store.readStream(s, o)).map((e) => e.version);
        expect(await versions({})).toEqual([1, 2, 3, 4, 5, 6]);
        expect(await versions({ from_version: 3, limit: 2 })).toEqual([3, 4]);
        expect(await versions({ from_version: 5 })).toEqual([5, 6]);
        expect(await versions({ from_version: 7 })).toEqual([]);
        expect(await versions({ direction: 'backward' })).toEqual([6, 5, 4, 3, 2, 1]);
        expect(await versions({ direction: 'backward', limit: 2 })).toEqual([6, 5]);
        expect(await versions({ direction: 'backward', from_version: 2 })).toEqual([2, 1]);
        expect(await versions({ direction: 'backward', from_version: 99, limit: 1 })).toEqual([6]);
        expect(await versions({ limit: 0 })).toEqual([]);
      });

      it('keeps streams isolated: versions count per stream and reads never mix streams', async () => {
        const a = streamName('iso-a');
        const b = streamName('iso-b');
        await store.append(a, [event(1)], { expected: 'no_stream' });
        await store.append(b, [event(10), event(11)], { expected: 'no_stream' });
        await store.append(a, [event(2)], { expected: 1 });
        expect((await store.readStream(a)).map((e) => [e.stream, e.version, (e.data as { n: number }).n])).toEqual([
          [a, 1, 1],
          [a, 2, 2],
        ]);
        expect((await store.readStream(b)).map((e) => [e.stream, e.version, (e.data as { n: number }).n])).toEqual([
          [b, 1, 10],
          [b, 2, 11],
        ]);
        expect(await store.streamVersion(a)).toBe(2);
        expect(await store.streamVersion(b)).toBe(2);
      });
    });

    describe('optimistic concurrency', () => {
      it('accepts an append whose expected version holds and refuses stale ones without writing', async () => {
        const s = streamName('expected');
        await store.append(s, [event(1)], { expected: 0 });
        await store.append(s, [event(2)], { expected: 1 });
        for (const stale of [1, 0, 5, 'no_stream'] as const) {
          const error = await failure(store.append(s, [event(99)], { expected: stale }));
          expect(error).toMatchObject({ code: 'concurrency_conflict', retryable: true });
          expect(error.details).toMatchObject({ stream: s, actual: 2 });
        }
        const anyResult = await store.append(s, [event(3)], { expected: 'any' });
        expect(anyResult.next_expected_version).toBe(3);
        expect((await store.readStream(s)).map((e) => (e.data as { n: number }).n)).toEqual([1, 2, 3]);
      });

      it('refuses an expected version for a stream that does not exist yet', async () => {
        const s = streamName('expected-missing');
        expect(await failure(store.append(s, [event(1)], { expected: 1 }))).toMatchObject({ code: 'concurrency_conflict' });
        expect(await store.streamVersion(s)).toBe(0);
      });

      it('lets exactly one of several racing appends at the same expected version win', async () => {
        const s = streamName('race');
        const settled = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.append(s, [event(i)], { expected: 'no_stream' })));
        const won = settled.filter((r) => r.status === 'fulfilled');
        const lost = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(7);
        for (const l of lost) expect(l.reason).toMatchObject({ code: 'concurrency_conflict' });
        expect(await store.readStream(s)).toHaveLength(1);
      });

      it('refuses malformed requests with validation_failed', async () => {
        expect(await failure(store.append('', [event(1)], { expected: 'any' }))).toMatchObject({ code: 'validation_failed' });
        expect(await failure(store.append(streamName('bad-expected'), [event(1)], { expected: -1 }))).toMatchObject({ code: 'validation_failed' });
        expect(await failure(store.append(streamName('bad-expected'), [event(1)], { expected: 1.5 }))).toMatchObject({ code: 'validation_failed' });
      });
    });

    describe('the global log', () => {
      it('reads events after a position in commit order, with limits, and reports the head', async () => {
        const a = streamName('log-a');
        const b = streamName('log-b');
        const before = await store.headPosition();
        const written: EventEnvelope[] = [];
        for (let i = 0; i < 5; i++) {
          written.push(...(await store.append(a, [event(i)], { expected: i })).events);
          written.push(...(await store.append(b, [event(i)], { expected: i })).events);
        }
        expectIncreasing(written.map((e) => e.position));
        expect(written[0]!.position).toBeGreaterThan(before);
        const mine = (events: EventEnvelope[]) => events.filter((e) => e.stream === a || e.stream === b);
        expect(mine(await store.readAll({ after_position: before }))).toEqual(written);
        const firstThree = mine(await store.readAll({ after_position: before, limit: 3 }));
        expect(firstThree.length).toBeLessThanOrEqual(3);
        if (gapless) {
          expect(written.map((e) => e.position)).toEqual(written.map((_, i) => before + i + 1));
          expect(firstThree).toEqual(written.slice(0, 3));
          expect(await store.readAll({ after_position: written[2]!.position, limit: 2 })).toEqual(written.slice(3, 5));
          expect(await store.headPosition()).toBe(written[written.length - 1]!.position);
        } else {
          expect(mine(await store.readAll({ after_position: written[2]!.position })).slice(0, 2)).toEqual(written.slice(3, 5));
          expect(await store.headPosition()).toBeGreaterThanOrEqual(written[written.length - 1]!.position);
        }
        expect(mine(await store.readAll({ after_position: written[written.length - 1]!.position }))).toEqual([]);
        expect(await store.readAll({ after_position: before, limit: 0 })).toEqual([]);
      });

      it('delivers a subscription its catch-up, then live appends, in order and once each', async () => {
        const s = streamName('subscribe');
        const from = await store.headPosition();
        await store.append(s, [event(1), event(2), event(3)], { expected: 'no_stream' });
        const seen: EventEnvelope[] = [];
        const subscription = store.subscribeAll({
          after_position: from,
          batch_size: 2,
          onEvents: (events) => void seen.push(...events.filter((e) => e.stream === s)),
        });
        await subscription.caughtUp;
        expect(seen.map((e) => e.version)).toEqual([1, 2, 3]);
        await store.append(s, [event(4)], { expected: 3 });
        await store.append(s, [event(5), event(6)], { expected: 4 });
        await until(() => seen.length >= 6, 'the subscription to deliver the live appends');
        expect(seen.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6]);
        expectIncreasing(seen.map((e) => e.position));
        expect(subscription.position).toBeGreaterThanOrEqual(seen[5]!.position);
        await subscription.stop();
        await store.append(s, [event(7)], { expected: 6 });
        expect(seen).toHaveLength(6);
      });

      it('redelivers a batch whose handler failed and reports the failure', async () => {
        const s = streamName('subscribe-retry');
        const from = await store.headPosition();
        await store.append(s, [event(1)], { expected: 'no_stream' });
        const errors: unknown[] = [];
        const delivered: number[] = [];
        let attempts = 0;
        const subscription = store.subscribeAll({
          after_position: from,
          onEvents: (events) => {
            const ours = events.filter((e) => e.stream === s);
            if (ours.length > 0 && ++attempts === 1) throw new Error('handler failed once');
            delivered.push(...ours.map((e) => e.version));
          },
          onError: (error) => errors.push(error),
        });
        await until(() => delivered.length >= 1, 'the failed batch to be redelivered');
        await subscription.stop();
        expect(delivered).toEqual([1]);
        expect(errors).toHaveLength(1);
        expect((errors[0] as Error).message).toBe('handler failed once');
      });
    });

    describe('refusing bad events', () => {
      it('refuses an unknown event type and writes nothing of the batch', async () => {
        const s = streamName('unknown');
        const head = await store.headPosition();
        const error = await failure(store.append(s, [event(1), { type: 'NoSuchEvent', data: {} }], { expected: 'any' }));
        expect(error).toMatchObject({ code: 'unknown_event_type', details: { type: 'NoSuchEvent' } });
        expect(await store.streamVersion(s)).toBe(0);
        if (gapless) expect(await store.headPosition()).toBe(head);
      });

      it('refuses data that fails its schema and writes nothing of the batch', async () => {
        const s = streamName('invalid');
        const error = await failure(store.append(s, [event(1), { type: 'TestEvent', data: { n: 'one' } }], { expected: 'any' }));
        expect(error.code).toBe('invalid_event');
        expect(error.message).toContain('n');
        expect(await store.streamVersion(s)).toBe(0);
        expect(await failure(store.append(s, [{ type: 'TestNote', data: { note: '' } }], { expected: 'any' }))).toMatchObject({ code: 'invalid_event' });
        expect(await store.readStream(s)).toEqual([]);
      });
    });

    describe('idempotent appends', () => {
      it('treats re-appending the same ids to the same stream as a no-op, whatever the expected version', async () => {
        const s = streamName('idempotent');
        const batch = [1, 2, 3].map((n) => ({ ...event(n), id: uuidFromName(run, s, String(n)) }));
        const first = await store.append(s, batch, { expected: 'no_stream' });
        const head = await store.headPosition();
        for (const expected of ['no_stream', 'any', 0, 3] as const) {
          const again = await store.append(s, batch, { expected });
          expect(again).toEqual({ next_expected_version: 3, position: first.position, events: [] });
        }
        expect(await store.readStream(s)).toEqual(first.events);
        if (gapless) expect(await store.headPosition()).toBe(head);
      });

      it('refuses a batch mixing a stored id with new events, writing nothing', async () => {
        const s = streamName('partial');
        const id = uuidFromName(run, s, 'stored');
        await store.append(s, [{ ...event(1), id }], { expected: 'no_stream' });
        const error = await failure(store.append(s, [{ ...event(1), id }, event(2)], { expected: 1 }));
        expect(error).toMatchObject({ code: 'conflict', details: { id } });
        expect(await store.streamVersion(s)).toBe(1);
      });

      it('refuses the same event id twice in one append', async () => {
        const s = streamName('twice');
        const id = uuidv7();
        expect(
          await failure(
            store.append(
              s,
              [
                { ...event(1), id },
                { ...event(2), id },
              ],
              { expected: 'any' },
            ),
          ),
        ).toMatchObject({ code: 'invalid_event' });
        expect(await store.streamVersion(s)).toBe(0);
      });

      (uniqueIds ? it : it.skip)('refuses an event id already stored on another stream', async () => {
        const id = uuidv7();
        await store.append(streamName('owner'), [{ ...event(1), id }], { expected: 'no_stream' });
        const other = streamName('thief');
        expect(await failure(store.append(other, [{ ...event(1), id }], { expected: 'any' }))).toMatchObject({ code: 'conflict', details: { id } });
        expect(await store.streamVersion(other)).toBe(0);
      });
    });

    describe('payloads', () => {
      it('stores a 1 MiB payload intact', async () => {
        const s = streamName('large');
        const text = randomBytes(512 * 1024).toString('hex');
        expect(text.length).toBe(1024 * 1024);
        await store.append(s, [{ type: 'TestEvent', data: { n: 1, text } }], { expected: 'no_stream' });
        const [stored] = await store.readStream(s);
        expect((stored!.data as { text: string }).text === text).toBe(true);
        const fromLog = (await store.readAll({ after_position: stored!.position - 1, limit: 1 }))[0];
        expect((fromLog?.data as { text: string }).text === text).toBe(true);
      });

      it('stores unicode text, control characters and unicode stream names intact', async () => {
        const s = `${streamName('unicode')}-módulo-模块-🚀`;
        const text = 'émoji 🚀👩🏽‍💻, 中文, العربية, עברית, combining e\u0301, zero\u200bwidth, NUL\u0000byte, tab\t"quotes" \\back\\slash\nnewline \u2028sep';
        const note = '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃';
        const { events } = await store.append(
          s,
          [
            { type: 'TestEvent', data: { n: 1, text } },
            { type: 'TestNote', data: { note }, actor: 'user:zoë' },
          ],
          { expected: 'no_stream' },
        );
        const stored = await store.readStream(s);
        expect(stored).toEqual(events);
        expect((stored[0]!.data as { text: string }).text).toBe(text);
        expect(stored[1]).toMatchObject({ stream: s, actor: 'user:zoë', data: { note } });
      });
    });

    describe('checkpoints', () => {
      it('returns 0 for an unknown checkpoint and the last position saved otherwise', async () => {
        const name = `relay-${run}`;
        expect(await store.checkpoints.get(name)).toBe(0);
        await store.checkpoints.set(name, 42);
        expect(await store.checkpoints.get(name)).toBe(42);
        await store.checkpoints.set(name, 7);
        expect(await store.checkpoints.get(name)).toBe(7);
        expect(await store.checkpoints.get(`other-${run}`)).toBe(0);
      });

      it('refuses an empty name and positions that are not non-negative integers', async () => {
        expect(await failure(store.checkpoints.get(''))).toMatchObject({ code: 'validation_failed' });
        for (const bad of [-1, 1.5, Number.NaN]) {
          expect(await failure(store.checkpoints.set(`bad-${run}`, bad))).toMatchObject({ code: 'validation_failed' });
        }
        expect(await store.checkpoints.get(`bad-${run}`)).toBe(0);
      });
    });

    describe('projection states', () => {
      it('saves, replaces, loads and drops a JSON document per projection', async () => {
        const name = `modules-${run}`;
        expect(await store.projections.load(name)).toBeUndefined();
        const state = { modules: { 'core-🚀': { versions: ['1.0.0', '1.1.0'], live: true, note: null } }, count: 2 };
        await store.projections.save(name, state, 10);
        expect(await store.projections.load(name)).toEqual({ state, position: 10 });
        await store.projections.save(name, [1, 'two'], 12);
        expect(await store.projections.load(name)).toEqual({ state: [1, 'two'], position: 12 });
        expect(await store.projections.load(`other-${run}`)).toBeUndefined();
        await store.projections.drop(name);
        expect(await store.projections.load(name)).toBeUndefined();
        await store.projections.drop(name);
        await store.projections.save(name, { rebuilt: true }, 3);
        expect(await store.projections.load(name)).toEqual({ state: { rebuilt: true }, position: 3 });
      });

      it('reads a document back as JSON gives it (dates become strings, undefined fields vanish)', async () => {
        const name = `json-${run}`;
        await store.projections.save(name, { at: new Date('2024-01-02T03:04:05.000Z'), gone: undefined, kept: 1 }, 1);
        expect(await store.projections.load(name)).toEqual({ state: { at: '2024-01-02T03:04:05.000Z', kept: 1 }, position: 1 });
      });

      it('refuses a state JSON cannot store and keeps the previous snapshot', async () => {
        const name = `unstorable-${run}`;
        await store.projections.save(name, { ok: true }, 5);
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        for (const bad of [undefined, 10n, circular, () => 1]) {
          expect(await failure(store.projections.save(name, bad, 6))).toMatchObject({ code: 'validation_failed' });
        }
        expect(await failure(store.projections.save(name, {}, -1))).toMatchObject({ code: 'validation_failed' });
        expect(await failure(store.projections.load(''))).toMatchObject({ code: 'validation_failed' });
        expect(await store.projections.load(name)).toEqual({ state: { ok: true }, position: 5 });
      });
    });

    (multiProcess ? describe : describe.skip)(
      multiProcess ? 'several handles and processes' : 'several handles and processes (skipped: this store lives inside one process)',
      () => {
        it('shares events, checkpoints and snapshots between handles, and wakes a subscriber on another handle', async () => {
          const other = await fixture.reopen!();
          try {
            const s = streamName('handles');
            const from = await store.headPosition();
            const seen: EventEnvelope[] = [];
            const subscription = store.subscribeAll({ after_position: from, onEvents: (events) => void seen.push(...events.filter((e) => e.stream === s)) });
            await subscription.caughtUp;
            const { events } = await other.append(s, [event(1), event(2)], { expected: 'no_stream' });
            await until(() => seen.length >= 2, 'the other handle’s append to reach the subscriber');
            await subscription.stop();
            expect(seen).toEqual(events);
            expect(await store.readStream(s)).toEqual(events);
            await other.checkpoints.set(`shared-${run}`, 99);
            expect(await store.checkpoints.get(`shared-${run}`)).toBe(99);
            await other.projections.save(`shared-${run}`, { from: 'other' }, 99);
            expect(await store.projections.load(`shared-${run}`)).toEqual({ state: { from: 'other' }, position: 99 });
          } finally {
            await other.close();
          }
        });

        it('refuses calls on a closed handle with store_unavailable', async () => {
          const other = await fixture.reopen!();
          await other.close();
          expect(await failure(other.append(streamName('closed'), [event(1)], { expected: 'any' }))).toMatchObject({ code: 'store_unavailable' });
          expect(await failure(other.readAll({}))).toMatchObject({ code: 'store_unavailable' });
          await other.close();
        });

        it('keeps every event exactly once, without gaps, when two OS processes append 1,000 events each to one stream', async () => {
          const s = streamName('two-processes');
          const count = 1000;
          const before = await store.headPosition();
          const reports = await runWriters(
            ['w1', 'w2'].map((worker) => ({ url: fixture.shared!.url, options: fixture.shared!.options, stream: s, worker, count })),
          );
          expect(reports).toHaveLength(2);
          const events = await store.readStream(s);
          expect(events).toHaveLength(2 * count);
          expect(events.map((e) => e.version)).toEqual(Array.from({ length: 2 * count }, (_, i) => i + 1));
          expect(new Set(events.map((e) => e.id)).size).toBe(2 * count);
          const written = new Set(events.map((e) => `${(e.data as { text: string }).text}:${(e.data as { n: number }).n}`));
          for (const worker of ['w1', 'w2']) for (let n = 0; n < count; n++) expect(written.has(`${worker}:${n}`)).toBe(true);
          expectIncreasing(events.map((e) => e.position));
          // Each writer's own events keep their order.
          for (const worker of ['w1', 'w2']) {
            const ns = events.filter((e) => (e.data as { text: string }).text === worker).map((e) => (e.data as { n: number }).n);
            expect(ns).toEqual(Array.from({ length: count }, (_, i) => i));
          }
          const log = (await readWholeLog(store, before)).filter((e) => e.stream === s);
          expect(log).toEqual(events);
          if (gapless) expect(events.map((e) => e.position)).toEqual(events.map((_, i) => before + i + 1));
        }, 240_000);
      },
    );
  });
}

/** A TestEvent carrying `n`. */
function event(n: number): NewEvent {
  return { type: 'TestEvent', data: { n } };
}

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string; retryable: boolean; details?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    if (!isPowernodeError(error)) throw error;
    return error;
  }
  throw new Error('expected the call to fail');
}

function expectIncreasing(positions: number[]): void {
  for (let i = 1; i < positions.length; i++) expect(positions[i]).toBeGreaterThan(positions[i - 1]!);
}

/** Waits until `condition` holds; a liveness bound, not a speed assertion. */
async function until(condition: () => boolean, what: string, boundMs = 30_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function readWholeLog(store: EventStore, after: number): Promise<EventEnvelope[]> {
  const out: EventEnvelope[] = [];
  for (let position = after; ;) {
    const batch = await store.readAll({ after_position: position, limit: 500 });
    if (batch.length === 0) return out;
    out.push(...batch);
    position = batch[batch.length - 1]!.position;
  }
}

/** Starts one writer process per task, releases them together once all are ready, and collects their reports. */
async function runWriters(tasks: AppendWorkerTask[]): Promise<unknown[]> {
  const script = join(here, 'fixtures', 'append-worker.ts');
  const children = tasks.map((task) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(task)], {
      cwd: repoRoot,
      env: { ...process.env, NODE_OPTIONS: '', TSX_TSCONFIG_PATH: join(repoRoot, 'tsconfig.base.json') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines: string[] = [];
    const ready = new Promise<void>((resolveReady) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        if (line === 'ready') resolveReady();
      });
    });
    const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
    return { task, child, ready, exited, lines, stderr: () => stderr };
  });
  const killAll = () => children.forEach((c) => c.child.exitCode === null && c.child.kill('SIGKILL'));
  // Bounds the run so a wedged writer fails the test with its output instead of hanging the suite.
  const guard = setTimeout(killAll, 200_000);
  try {
    await Promise.race([
      Promise.all(children.map((c) => c.ready)),
      Promise.all(children.map((c) => c.exited)).then(() => {
        throw new Error(`a writer exited before it was ready: ${children.map((c) => c.stderr()).join('\n')}`);
      }),
    ]);
    for (const c of children) c.child.stdin.end('go\n');
    const codes = await Promise.all(children.map((c) => c.exited));
    codes.forEach((code, i) => {
      if (code !== 0) throw new Error(`writer ${children[i]!.task.worker} exited with ${String(code)}: ${children[i]!.stderr()}`);
    });
    return children.map((c) => JSON.parse(c.lines[c.lines.length - 1]!) as unknown);
  } finally {
    clearTimeout(guard);
    killAll();
  }
}
