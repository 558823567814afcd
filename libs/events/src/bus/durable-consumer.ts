import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { headers as natsHeaders, nanos } from '@nats-io/transport-node';
import { PowernodeError, isPowernodeError } from '@powernode/contracts';
import type { EventEnvelope } from '@powernode/event-core';
import { defaultBusLogger, type BusLogger } from './bus-logger.js';
import { failureOutcome, type DeadLetterReason } from './delivery-outcome.js';
import { BUS_HEADERS, decodeEvent } from './event-message.js';
import { deadLetterSubject } from './event-subjects.js';
import type { ProcessedLedger } from './processed-ledger.js';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './retry-delay.js';

/** What a handler learns about the delivery besides the event. */
export interface DeliveryContext {
  /** 1-based delivery attempt of this message. */
  attempt: number;
  subject: string;
  stream_sequence: number;
}

/** Handles one event. Resolve = done (the message is acked); throw = retry or dead-letter, see `failureOutcome`. */
export type EventHandler = (event: EventEnvelope, context: DeliveryContext) => Promise<void>;

export interface DurableConsumerOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** JetStream stream holding the events (`POWERNODE_EVENTS`). */
  stream: string;
  /** Durable consumer name; also the ledger key and the dead-letter subject suffix. */
  durable: string;
  /** Subjects to receive (e.g. `powernode.events.module.*`). Several filters need nats-server 2.10+. */
  filter_subjects: string[];
  handler: EventHandler;
  ledger: ProcessedLedger;
  /** Deliveries before a still-failing message is dead-lettered. Default 5. */
  max_deliver?: number;
  backoff?: Partial<BackoffPolicy>;
  /** How long JetStream waits for an ack before redelivering; long handlers extend it. Default 30000 ms. */
  ack_wait_ms?: number;
  /** Default `powernode.dlq.<durable>`; must be captured by a stream (see `ensureDeadLetterStream`). */
  dead_letter_subject?: string;
  /** Messages pulled ahead of the handler (and drained by `stop()`). Default 32. */
  max_messages?: number;
  logger?: BusLogger;
}

export interface DurableConsumerStats {
  handled: number;
  /** Deliveries acked without running the handler because the ledger already had the event id. */
  skipped: number;
  retried: number;
  dead_lettered: number;
}

/**
 * A durable JetStream pull consumer that runs one handler per event, in delivery order: ack only after the
 * handler resolved and the event id is in the ledger, nak with exponential backoff on retryable failures,
 * dead-letter (publish to the dead-letter subject, then term) on terminal failures or after `max_deliver`.
 */
export class DurableConsumer {
  private readonly maxDeliver: number;
  private readonly backoff: BackoffPolicy;
  private readonly ackWaitMs: number;
  private readonly dlqSubject: string;
  private readonly logger: BusLogger;
  private readonly counters: DurableConsumerStats = { handled: 0, skipped: 0, retried: 0, dead_lettered: 0 };
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private wakeFromPause: (() => void) | undefined;

  constructor(private readonly options: DurableConsumerOptions) {
    if (options.filter_subjects.length === 0) {
      throw new PowernodeError(
        'validation_failed',
        `durable consumer ${options.durable} has no filter subjects: pass at least one, e.g. powernode.events.module.*`,
      );
    }
    this.maxDeliver = options.max_deliver ?? 5;
    if (!Number.isInteger(this.maxDeliver) || this.maxDeliver < 1) {
      throw new PowernodeError(
        'validation_failed',
        `max_deliver of durable consumer ${options.durable} must be a positive integer, got ${options.max_deliver}`,
      );
    }
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.ackWaitMs = options.ack_wait_ms ?? 30_000;
    this.dlqSubject = options.dead_letter_subject ?? deadLetterSubject(options.durable);
    this.logger = options.logger ?? defaultBusLogger('durable-consumer');
  }

  /** Creates or updates the durable consumer on the server, then starts pulling in the background. */
  async start(): Promise<void> {
    if (this.loop) throw new PowernodeError('conflict', `durable consumer ${this.options.durable} is already started`);
    this.stopping = false;
    await this.ensureConsumer();
    const first = await this.openMessages();
    this.loop = this.run(first);
  }

  /**
   * Stops pulling and drains: messages already pulled are handled and acked before the promise resolves.
   * (Handing them back with a nak is not safe: the server may redeliver them into this instance's pull
   * request, which stays open on the server after the client stops, and they would sit out `ack_wait`.)
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeFromPause?.();
    this.messages?.close().catch(() => undefined);
    await this.loop;
    this.loop = undefined;
    this.messages = undefined;
  }

  /** Counters for /metrics. */
  stats(): DurableConsumerStats {
    return { ...this.counters };
  }

  /** Messages waiting for this consumer: not yet delivered plus delivered and not yet acked. */
  async pending(): Promise<number> {
    const info = await this.options.jsm.consumers.info(this.options.stream, this.options.durable);
    return info.num_pending + info.num_ack_pending;
  }

  private consumerConfig(): Partial<ConsumerConfig> & { durable_name: string } {
    const filters = this.options.filter_subjects;
    return {
      durable_name: this.options.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.ackWaitMs),
      // The delivery limit is enforced here, not by the server: a server-side limit silently drops the
      // message after the last attempt, while we must publish it to the dead-letter subject first.
      max_deliver: -1,
      ...(filters.length === 1 ? { filter_subject: filters[0]! } : { filter_subjects: filters }),
    };
  }

  private async ensureConsumer(): Promise<void> {
    const { jsm, stream, durable } = this.options;
    const config = this.consumerConfig();
    try {
      try {
        const info = await jsm.consumers.info(stream, durable);
        const c = info.config;
        const sameFilter =
          (c.filter_subject ?? '') === (config.filter_subject ?? '') &&
          JSON.stringify(c.filter_subjects ?? []) === JSON.stringify(config.filter_subjects ?? []);
        if (!sameFilter || c.ack_wait !== config.ack_wait || c.max_deliver !== config.max_deliver) {
          const { durable_name: _name, deliver_policy: _deliver, ack_policy: _ack, ...mutable } = config;
          await jsm.consumers.update(stream, durable, mutable);
        }
      } catch (error) {
        if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) throw error;
        await jsm.consumers.add(stream, config);
      }
    } catch (cause) {
      throw new PowernodeError(
        'bus_unavailable',
        `cannot create durable consumer ${durable} on stream ${stream}: ${(cause as Error).message}; check that the stream exists (ensureEventStream) and, if the filter changed, that the server allows updating it`,
        { cause, details: { stream, durable, filter_subjects: this.options.filter_subjects } },
      );
    }
  }

  private async openMessages(): Promise<ConsumerMessages> {
    const consumer = await this.options.js.consumers.get(this.options.stream, this.options.durable);
    const messages = await consumer.consume({ max_messages: this.options.max_messages ?? 32 });
    this.messages = messages;
    return messages;
  }

  private async run(first: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | undefined = first;
    while (!this.stopping) {
      try {
        messages ??= await this.reopen();
        for await (const m of messages) await this.process(m);
      } catch (error) {
        this.logger.error({ consumer: this.options.durable, err: error }, 'durable consumer pull loop failed; resubscribing');
      }
      messages = undefined;
      if (!this.stopping) await this.pause(1000);
    }
  }

  private async reopen(): Promise<ConsumerMessages> {
    try {
      return await this.openMessages();
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound) await this.ensureConsumer();
      throw error;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeFromPause = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async process(m: JsMsg): Promise<void> {
    const durable = this.options.durable;
    const attempt = m.info.deliveryCount;
    let event: EventEnvelope;
    try {
      event = decodeEvent(m.data);
    } catch (error) {
      await this.deadLetter(m, undefined, 'undecodable', error);
      return;
    }
    const log = { consumer: durable, event_id: event.id, type: event.type, correlation_id: event.correlation_id, attempt };
    if (attempt > this.maxDeliver) {
      // Earlier deliveries ended without an outcome (the process died or overran ack_wait each time).
      const error = new PowernodeError('internal', `event ${event.id} was delivered ${attempt} times to ${durable} without being handled`);
      await this.deadLetter(m, event, 'max_deliver', error);
      return;
    }
    try {
      if (await this.options.ledger.has(durable, event.id)) {
        m.ack();
        this.counters.skipped += 1;
        this.logger.debug(log, 'event already processed; acked without handling');
        return;
      }
      await this.runHandler(event, m, attempt);
    } catch (error) {
      const outcome = failureOutcome(error, attempt, this.maxDeliver, this.backoff);
      switch (outcome.kind) {
        case 'retry':
          m.nak(outcome.delay_ms);
          this.counters.retried += 1;
          this.logger.warn({ ...log, err: error, code: outcome.code, retry_in_ms: outcome.delay_ms }, 'event handler failed; redelivery scheduled');
          return;
        case 'dead_letter':
          await this.deadLetter(m, event, outcome.reason, error);
          return;
        default: {
          const unknown: never = outcome;
          throw new Error(`unhandled outcome ${JSON.stringify(unknown)}`);
        }
      }
    }
    try {
      await this.options.ledger.add(durable, event.id);
    } catch (error) {
      // The effect is done; without the ledger entry a redelivery re-runs the (idempotent) handler.
      this.logger.warn({ ...log, err: error }, 'cannot record the event in the processed ledger; acking anyway');
    }
    m.ack();
    this.counters.handled += 1;
  }

  private async runHandler(event: EventEnvelope, m: JsMsg, attempt: number): Promise<void> {
    // Tell the server we are still working so a slow handler does not get the message redelivered meanwhile.
    const heartbeat = setInterval(() => m.working(), Math.max(100, Math.floor(this.ackWaitMs / 3)));
    try {
      await this.options.handler(event, { attempt, subject: m.subject, stream_sequence: m.seq });
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async deadLetter(m: JsMsg, event: EventEnvelope | undefined, reason: DeadLetterReason, error: unknown): Promise<void> {
    const durable = this.options.durable;
    const code = isPowernodeError(error) ? error.code : 'internal';
    const message = error instanceof Error ? error.message : String(error);
    const h = natsHeaders();
    for (const name of [BUS_HEADERS.correlation_id, BUS_HEADERS.causation_id, BUS_HEADERS.event_type, BUS_HEADERS.event_stream, BUS_HEADERS.event_position]) {
      const value = m.headers?.get(name);
      if (value) h.set(name, value);
    }
    h.set(BUS_HEADERS.dead_letter_reason, reason);
    h.set(BUS_HEADERS.dead_letter_code, code);
    // Header values are one line; the full error stays in the logs.
    h.set(BUS_HEADERS.dead_letter_message, message.replace(/[\r\n]+/g, ' ').slice(0, 1024));
    h.set(BUS_HEADERS.original_subject, m.subject);
    h.set(BUS_HEADERS.original_stream_sequence, String(m.seq));
    h.set(BUS_HEADERS.delivery_count, String(m.info.deliveryCount));
    h.set(BUS_HEADERS.consumer, durable);
    const log = {
      consumer: durable,
      event_id: event?.id,
      type: event?.type,
      correlation_id: event?.correlation_id,
      reason,
      code,
      attempt: m.info.deliveryCount,
    };
    try {
      await this.options.js.publish(this.dlqSubject, m.data, { headers: h, msgID: `${durable}:${event?.id ?? `seq-${m.seq}`}` });
    } catch (publishError) {
      // Never term a message we could not park: it stays in the stream and comes back after the delay.
      const delay = this.backoff.max_ms;
      m.nak(delay);
      this.logger.error(
        { ...log, err: publishError, dead_letter_subject: this.dlqSubject, retry_in_ms: delay },
        'cannot publish to the dead-letter subject; message kept for redelivery',
      );
      return;
    }
    m.term();
    this.counters.dead_lettered += 1;
    this.logger.error({ ...log, err: error, dead_letter_subject: this.dlqSubject }, 'event dead-lettered');
  }
}
