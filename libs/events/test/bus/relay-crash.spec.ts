import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DurableConsumer } from '../../src/bus/durable-consumer.js';
import { SqliteProcessedLedger } from '../../src/bus/sqlite-processed-ledger.js';
import type { EventEnvelope } from '@powernode/event-core';
import { SqliteEventStore } from '../../src/store/sqlite-event-store.js';
import { uuidFromName } from '../../src/uuid7.js';
import { busTestCatalogue, NATS_URL, openBusFixture, recordingLogger, waitUntil, type BusFixture } from './bus-fixture.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../../..');
const relayScript = path.join(here, 'fixtures/relay-process.ts');

/** A relay child process and the lines it printed so far. */
interface RelayProcess {
  child: ChildProcess;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLine(prefix: string): Promise<string>;
}

function spawnRelay(env: Record<string, string>): RelayProcess {
  const { NODE_OPTIONS: _jestNodeOptions, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', relayScript], {
    cwd: repoRoot,
    env: { ...inherited, TSX_TSCONFIG_PATH: path.join(repoRoot, 'libs/events/tsconfig.json'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    lines,
    exited,
    async waitForLine(prefix) {
      await waitUntil(`the relay process printed "${prefix}" (stderr: ${stderr.slice(-2000)})`, () => done || lines.some((l) => l.startsWith(prefix)), 30_000);
      const line = lines.find((l) => l.startsWith(prefix));
      if (!line) throw new Error(`relay process exited before printing "${prefix}": ${stderr.slice(-2000)}`);
      return line;
    },
  };
}

describe('relay process killed between publish and checkpoint', () => {
  let bus: BusFixture;
  let dir: string;
  let store: SqliteEventStore;
  let effects: SqliteEventStore;
  let ledger: SqliteProcessedLedger;
  let consumer: DurableConsumer;
  const children: ChildProcess[] = [];
  let handlerCalls: number;

  beforeEach(async () => {
    bus = await openBusFixture();
    dir = mkdtempSync(path.join(tmpdir(), 'pn-relay-crash-'));
    store = SqliteEventStore.open(path.join(dir, 'events.db'), busTestCatalogue());
    effects = SqliteEventStore.open(path.join(dir, 'effects.db'), busTestCatalogue());
    ledger = SqliteProcessedLedger.open(path.join(dir, 'ledger.db'));
    handlerCalls = 0;
    const durable = `effects_${bus.id}`;
    consumer = new DurableConsumer({
      js: bus.js,
      jsm: bus.jsm,
      stream: bus.event_stream,
      durable,
      filter_subjects: [`${bus.subject_prefix}.thing.*`],
      ledger,
      dead_letter_subject: `${bus.dead_letter_prefix}.${durable}`,
      logger: recordingLogger(),
      // The effect is idempotent by construction: its id derives from the consumer and the source event.
      handler: async (event: EventEnvelope) => {
        handlerCalls += 1;
        await effects.append(
          `handled-${event.stream}`,
          [
            {
              id: uuidFromName(durable, event.id),
              type: 'ThingHandled',
              data: { source_event_id: event.id, n: (event.data as { n: number }).n },
              causation_id: event.id,
              correlation_id: event.correlation_id,
            },
          ],
          { expected: 'any' },
        );
      },
    });
    await consumer.start();
  });

  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await consumer.stop();
    ledger.close();
    await effects.close();
    await store.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function relayEnv(extra: Record<string, string> = {}): Record<string, string> {
    return { STORE_PATH: path.join(dir, 'events.db'), NATS_URL, SUBJECT_PREFIX: bus.subject_prefix, EVENT_STREAM: bus.event_stream, ...extra };
  }

  function start(extra: Record<string, string> = {}): RelayProcess {
    const p = spawnRelay(relayEnv(extra));
    children.push(p.child);
    return p;
  }

  async function appendThings(count: number, perAppend: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i += perAppend) {
      const batch = Array.from({ length: Math.min(perAppend, count - i) }, (_, k) => ({
        type: 'ThingHappened',
        data: { n: i + k },
        correlation_id: `corr-${i + k}`,
      }));
      const { events } = await store.append(`thing-${i % 7}`, batch, { expected: 'any' });
      ids.push(...events.map((e) => e.id));
    }
    return ids;
  }

  async function streamMessages(): Promise<number> {
    return (await bus.jsm.streams.info(bus.event_stream)).state.messages;
  }

  /** Every source event has exactly one effect, and the handler ran once per event. */
  async function expectEveryEffectExactlyOnce(sourceIds: string[]): Promise<void> {
    await waitUntil(
      `the consumer handled all ${sourceIds.length} events`,
      () => consumer.stats().handled + consumer.stats().skipped >= sourceIds.length,
      30_000,
    );
    const effectEvents = await effects.readAll();
    const causes = effectEvents.map((e) => (e.data as { source_event_id: string }).source_event_id);
    expect(causes).toHaveLength(sourceIds.length);
    expect(new Set(causes)).toEqual(new Set(sourceIds));
    expect(handlerCalls).toBe(sourceIds.length);
    expect(consumer.stats()).toMatchObject({ handled: sourceIds.length, dead_lettered: 0 });
  }

  /** The message count once publishes already on the wire have landed. */
  async function settledStreamMessages(): Promise<number> {
    let last = -1;
    await waitUntil('the stream stops growing', async () => {
      const now = await streamMessages();
      const stable = now === last;
      last = now;
      if (!stable) await new Promise((r) => setTimeout(r, 100));
      return stable;
    });
    return last;
  }

  it('held before its first checkpoint write, killed, restarted: JetStream drops every republished copy', async () => {
    const ids = await appendThings(300, 10);
    const first = start({ HOLD_BEFORE_CHECKPOINT: '1', BATCH_SIZE: '100' });
    expect(await first.waitForLine('published-not-checkpointed')).toBe('published-not-checkpointed 100');
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The state a crash between publish and checkpoint leaves: events on the bus, none checkpointed.
    const onBus = await settledStreamMessages();
    expect(onBus).toBeGreaterThanOrEqual(100);
    expect(await store.checkpoints.get('relay')).toBe(0);

    const second = start({ BATCH_SIZE: '100' });
    const caughtUp = JSON.parse((await second.waitForLine('caught-up ')).slice('caught-up '.length)) as Record<string, unknown>;
    expect(caughtUp).toEqual({ published: 300 - onBus, duplicates: onBus, checkpoint: 300, published_position: 300, last_error: null });
    expect(await streamMessages()).toBe(300);
    expect(await store.checkpoints.get('relay')).toBe(300);
    await expectEveryEffectExactlyOnce(ids);

    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('SIGKILLed while publishing a large batch, restarted: every event has its effect exactly once', async () => {
    const ids = await appendThings(4000, 50);
    const first = start({ BATCH_SIZE: '1000' });
    await first.waitForLine('started');
    await waitUntil('the relay has published part of the log', async () => (await streamMessages()) > 0, 30_000);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    // Let publishes already on the wire land, then take the state the crash left.
    const onBus = await settledStreamMessages();
    const checkpointAtCrash = await store.checkpoints.get('relay');
    expect(onBus).toBeGreaterThanOrEqual(checkpointAtCrash);
    expect(onBus).toBeLessThan(4000);

    const second = start({ BATCH_SIZE: '1000' });
    const caughtUp = JSON.parse((await second.waitForLine('caught-up ')).slice('caught-up '.length)) as Record<string, unknown>;
    // Everything published before the crash but after the checkpoint came again and was dropped as a duplicate.
    expect(caughtUp).toEqual({ published: 4000 - onBus, duplicates: onBus - checkpointAtCrash, checkpoint: 4000, published_position: 4000, last_error: null });
    expect(await streamMessages()).toBe(4000);
    await expectEveryEffectExactlyOnce(ids);
  }, 60_000);
});
