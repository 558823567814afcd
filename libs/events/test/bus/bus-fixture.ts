// Shared set-up for the bus suites: a real NATS connection, throw-away JetStream streams with unique names
// so suites running at the same time never see each other's messages, and a small test event catalogue.
import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { EventCatalogue } from '../../src/catalogue.js';
import { ensureDeadLetterStream, ensureEventStream } from '../../src/bus/event-stream.js';
import type { BusLogger } from '../../src/bus/bus-logger.js';

export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export function uniqueId(): string {
  return randomBytes(5).toString('hex');
}

/** Event types used by the bus tests: a source event and the effect a consumer appends for it. */
export function busTestCatalogue(): EventCatalogue {
  return new EventCatalogue([
    { type: 'ThingHappened', schema_version: 1, schema: z.object({ n: z.number().int() }) },
    { type: 'ThingHandled', schema_version: 1, schema: z.object({ source_event_id: z.string(), n: z.number().int() }) },
  ]);
}

export interface BusFixture {
  id: string;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** JetStream stream of events, capturing `<subject_prefix>.>`. */
  event_stream: string;
  subject_prefix: string;
  dead_letter_stream: string;
  dead_letter_prefix: string;
  close(): Promise<void>;
}

/** Connects to NATS and creates a private event stream and dead-letter stream; `close()` deletes both. */
export async function openBusFixture(options: { duplicate_window_ms?: number } = {}): Promise<BusFixture> {
  const id = uniqueId();
  const nc = await connect({ servers: NATS_URL, name: `bus-test-${id}` });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const fixture: BusFixture = {
    id,
    nc,
    js,
    jsm,
    event_stream: `PN_TEST_${id}`,
    subject_prefix: `pntest.${id}.ev`,
    dead_letter_stream: `PN_TEST_DLQ_${id}`,
    dead_letter_prefix: `pntest.${id}.dlq`,
    async close() {
      for (const stream of [fixture.event_stream, fixture.dead_letter_stream]) await jsm.streams.delete(stream).catch(() => false);
      await nc.close();
    },
  };
  await ensureEventStream(jsm, {
    name: fixture.event_stream,
    subjects: [`${fixture.subject_prefix}.>`],
    duplicate_window_ms: options.duplicate_window_ms ?? 120_000,
  });
  await ensureDeadLetterStream(jsm, { name: fixture.dead_letter_stream, subjects: [`${fixture.dead_letter_prefix}.>`] });
  return fixture;
}

/** Every message currently in a stream, in stream order. */
export async function storedMessages(jsm: JetStreamManager, stream: string): Promise<StoredMsg[]> {
  const info = await jsm.streams.info(stream);
  const out: StoredMsg[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m) out.push(m);
  }
  return out;
}

/** Waits until `check` returns true (polling every 20 ms); fails with `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A logger that keeps what it was given, so tests can assert on what was logged. */
export function recordingLogger(): BusLogger & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
