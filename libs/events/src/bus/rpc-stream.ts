import { createInbox, headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { PowernodeError } from '@powernode/contracts';
import { BUS_HEADERS } from './event-message.js';
import type { z, ZodType } from 'zod';
import { rpcHandler, type RpcContext, type RpcHandlerOptions, type RpcTransportContext } from './rpc-handler.js';
import type { RpcReply } from './rpc-reply.js';

/*
 * A streamed answer: for a request whose answer is too large for one NATS message (1 MiB by default) or should
 * reach the caller while it is still being produced. The caller subscribes to a fresh inbox and names it in
 * the request's Powernode-Stream-Subject header; the handler publishes the parts there as they come, each
 * with Powernode-Stream-Seq (0, 1, 2, …) and Powernode-Stream-Part (a kind both sides agree on), then one
 * part `end` holding a JSON summary, and still answers the request itself with its usual {ok,…} reply. A
 * refusal before any part is thus an ordinary error reply.
 *
 * Core NATS delivers at most once: a dropped part shows as a gap in the sequence, and the reader stops with
 * `stream_interrupted` rather than hand on output with a hole in it. A reader that stops early publishes to
 * `<inbox>.cancel`, which the writer turns into an aborted signal so the handler can stop its work.
 */

/** The part kind of the last part of every streamed answer. */
export const STREAM_END_PART = 'end';

const CANCEL_SUFFIX = '.cancel';
/** Room left in each message for headers, below the server's max_payload. */
const HEADER_ROOM_BYTES = 4096;
/** How long after the handler's reply the end part may still be on its way (it travels another connection). */
const DEFAULT_END_GRACE_MS = 5_000;
/** An inbox from `createInbox()`, or any plain subject without wildcards. */
const PLAIN_SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** What a streamed answer yields: the parts as they came, then its summary. */
export type StreamedReplyItem<T> = { type: 'part'; part: string; data: Uint8Array } | { type: 'end'; data: T };

/** The handler's side of a streamed answer: ordered parts to the caller's subject, then the end. */
export class RpcStreamWriter {
  private seq = 0;
  private readonly cancelled = new AbortController();
  private readonly cancelSubscription: Subscription;
  private readonly maxPartBytes: number;

  private constructor(
    private readonly nc: NatsConnection,
    readonly subject: string,
  ) {
    this.cancelSubscription = nc.subscribe(`${subject}${CANCEL_SUFFIX}`, { max: 1, callback: () => this.cancelled.abort() });
    this.maxPartBytes = Math.max(HEADER_ROOM_BYTES, (nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM_BYTES);
  }

  /** The writer for the subject the request named; `validation_failed` when the caller asked for no stream. */
  static open(nc: NatsConnection, context: Pick<RpcContext, 'stream_subject' | 'subject'>): RpcStreamWriter {
    const subject = context.stream_subject;
    if (subject === undefined || !PLAIN_SUBJECT.test(subject)) {
      throw new PowernodeError(
        'validation_failed',
        `${context.subject ?? 'this request'} streams its answer: send it with RpcClient.requestStream, whose ${BUS_HEADERS.stream_subject} header names a plain subject for the parts`,
        { details: { header: BUS_HEADERS.stream_subject, rule: 'stream_subject_required' } },
      );
    }
    return new RpcStreamWriter(nc, subject);
  }

  /** Aborted once the reader has gone away: whatever produces the parts may stop. */
  get signal(): AbortSignal {
    return this.cancelled.signal;
  }

  /** Publishes `data` as the next part of kind `kind` (several when it exceeds the server's max_payload; one when empty). */
  part(kind: string, data: Uint8Array): void {
    let offset = 0;
    do {
      this.publish(kind, data.subarray(offset, offset + this.maxPartBytes));
      offset += this.maxPartBytes;
    } while (offset < data.length);
  }

  /** Publishes the end part (`summary` as JSON) and waits until the server has every part, before the reply goes out. */
  async end(summary: unknown): Promise<void> {
    this.publish(STREAM_END_PART, new TextEncoder().encode(JSON.stringify(summary)));
    await this.nc.flush();
  }

  /** Stops listening for the reader's cancel. */
  close(): void {
    this.cancelSubscription.unsubscribe();
  }

  private publish(kind: string, data: Uint8Array): void {
    const h = natsHeaders();
    h.set(BUS_HEADERS.stream_seq, String(this.seq++));
    h.set(BUS_HEADERS.stream_part, kind);
    this.nc.publish(this.subject, data, { headers: h });
  }
}

type ReaderSignal = { kind: 'message'; msg: Msg } | { kind: 'replied' } | { kind: 'failed'; error: unknown } | { kind: 'end_overdue' } | { kind: 'abandoned' };

/** A FIFO the subscription and the reply push to and the reader awaits. */
class SignalQueue {
  private readonly items: ReaderSignal[] = [];
  private waiting: ((signal: ReaderSignal) => void) | null = null;

  push(signal: ReaderSignal): void {
    const waiting = this.waiting;
    if (waiting === null) {
      this.items.push(signal);
      return;
    }
    this.waiting = null;
    waiting(signal);
  }

  next(): Promise<ReaderSignal> {
    const item = this.items.shift();
    return item === undefined ? new Promise((resolve) => (this.waiting = resolve)) : Promise.resolve(item);
  }
}

export interface ReadStreamedReplyOptions {
  /** Named in errors. */
  pattern: string;
  /** How long the end part may trail the handler's reply. Default 5000 ms. */
  end_grace_ms?: number;
  /** Aborted when the caller no longer wants the answer: the iteration ends at once and the handler is asked to stop. */
  signal?: AbortSignal;
}

/**
 * The caller's side: subscribes to a fresh inbox, sends the request through `request(inbox)` (which resolves
 * with the handler's reply, or throws its error), and yields the parts in order, then the end. Throws the
 * handler's error as soon as its reply says so, `stream_interrupted` on a gap or a missing end. Stopping the
 * iteration early, or aborting `options.signal`, asks the handler to stop (`<inbox>.cancel`).
 */
export async function* readStreamedReply<T>(
  nc: NatsConnection,
  request: (streamSubject: string) => Promise<unknown>,
  options: ReadStreamedReplyOptions,
): AsyncGenerator<StreamedReplyItem<T>, void, undefined> {
  const subject = createInbox(connectionInboxPrefix(nc));
  const queue = new SignalQueue();
  // Subscribed before the request leaves on the same connection, so the server knows the inbox before any part.
  const subscription = nc.subscribe(subject, { callback: (error, msg) => queue.push(error ? { kind: 'failed', error } : { kind: 'message', msg }) });
  request(subject).then(
    () => queue.push({ kind: 'replied' }),
    (error: unknown) => queue.push({ kind: 'failed', error }),
  );
  const abandon = (): void => queue.push({ kind: 'abandoned' });
  if (options.signal?.aborted) abandon();
  options.signal?.addEventListener('abort', abandon, { once: true });
  let expected = 0;
  let ended = false;
  let overdue: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      const signal = await queue.next();
      switch (signal.kind) {
        case 'message': {
          const seq = Number(signal.msg.headers?.get(BUS_HEADERS.stream_seq) ?? Number.NaN);
          const part = signal.msg.headers?.get(BUS_HEADERS.stream_part) ?? '';
          if (seq !== expected) {
            throw new PowernodeError(
              'stream_interrupted',
              `the streamed answer to ${options.pattern} lost part ${expected} (part ${seq} came next): the bus dropped a message; run it again`,
              {
                retryable: true,
                details: { pattern: options.pattern, expected_seq: expected, received_seq: Number.isNaN(seq) ? null : seq, rule: 'stream_parts_in_sequence' },
              },
            );
          }
          expected += 1;
          if (part === STREAM_END_PART) {
            ended = true;
            yield { type: 'end', data: signal.msg.json<T>() };
            return;
          }
          yield { type: 'part', part, data: signal.msg.data };
          break;
        }
        case 'replied':
          overdue = setTimeout(() => queue.push({ kind: 'end_overdue' }), options.end_grace_ms ?? DEFAULT_END_GRACE_MS);
          break;
        case 'failed':
          throw signal.error;
        case 'end_overdue':
          throw new PowernodeError(
            'stream_interrupted',
            `${options.pattern} answered, but the end of its streamed answer never came (${expected} parts arrived): the bus dropped it; run it again`,
            {
              retryable: true,
              details: { pattern: options.pattern, parts_received: expected, rule: 'stream_end_required' },
            },
          );
        case 'abandoned':
          return;
        default: {
          const unreachable: never = signal;
          throw new Error(`unknown reader signal ${JSON.stringify(unreachable)}`);
        }
      }
    }
  } finally {
    clearTimeout(overdue);
    options.signal?.removeEventListener('abort', abandon);
    subscription.unsubscribe();
    if (!ended && !nc.isClosed()) nc.publish(`${subject}${CANCEL_SUFFIX}`);
  }
}

/**
 * A handler whose answer is streamed: `fn` gets a writer to the caller's subject (closed when it returns) and its
 * return value becomes the ordinary reply. A request without a stream subject is refused.
 */
export function withStreamWriter<R, T>(
  nc: NatsConnection,
  fn: (request: R, context: RpcContext, writer: RpcStreamWriter) => Promise<T>,
): (request: R, context: RpcContext) => Promise<T> {
  return async (request, context) => {
    const writer = RpcStreamWriter.open(nc, context);
    try {
      return await fn(request, context, writer);
    } finally {
      writer.close();
    }
  };
}

/** `rpcHandler` for a request whose answer is streamed (see `withStreamWriter`). */
export function streamedRpcHandler<S extends ZodType, T>(
  nc: NatsConnection,
  schema: S,
  fn: (input: z.output<S>, context: RpcContext, writer: RpcStreamWriter) => Promise<T>,
  options: RpcHandlerOptions = {},
): (payload: unknown, transport?: RpcTransportContext) => Promise<RpcReply<T>> {
  return rpcHandler(schema, withStreamWriter(nc, fn), options);
}

/**
 * The inbox prefix `nc` was connected with. A user the platform's NATS permissions confine to its own inboxes
 * (`natsInboxPrefix`) must make every inbox under it, these streamed replies' included.
 */
export function connectionInboxPrefix(nc: NatsConnection): string | undefined {
  // The connection keeps its options; nats.js types them only on the implementation class.
  const options = (nc as unknown as { options?: { inboxPrefix?: unknown } }).options;
  return typeof options?.inboxPrefix === 'string' ? options.inboxPrefix : undefined;
}
