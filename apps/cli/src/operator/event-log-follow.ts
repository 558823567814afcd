import { PowernodeError } from '@powernode/contracts';
import { platformRefusal, type PlatformTarget } from './platform-api.js';

/** One event of the global log as the gateway's live stream carries it, with its position. */
export interface FollowedEvent {
  position: number;
  event: Record<string, unknown>;
}

export interface FollowOptions {
  /** Exclusive global position to start after; undefined starts at the head (only what comes next). */
  after?: number;
  signal?: AbortSignal;
  /** Told when a connection is open, with the position the stream starts after. */
  onOpen?: (after: number) => void;
  /** Told each time the connection dropped and is opened again, from the last position received. */
  onReconnect?: (after: number, cause: string) => void;
  /** Wait before opening a dropped connection again. Default 1000 ms. */
  retryMs?: number;
}

/**
 * Server-sent events, parsed incrementally: feed text as it arrives, get each complete event's `id`, `event` and
 * `data` (lines joined by \n). The `retry:` field is skipped; comments go to `onComment`.
 */
export class ServerSentEventParser {
  private buffer = '';

  constructor(private readonly onComment: (text: string) => void = () => undefined) {}

  private pendingCarriageReturn = false;

  push(text: string): { id: string | undefined; event: string; data: string }[] {
    // A CRLF may be cut between two chunks: hold a trailing CR back until the next chunk says what it ends.
    let raw = (this.pendingCarriageReturn ? '\r' : '') + text;
    this.pendingCarriageReturn = raw.endsWith('\r');
    if (this.pendingCarriageReturn) raw = raw.slice(0, -1);
    this.buffer += raw.replace(/\r\n?/g, '\n');
    const out: { id: string | undefined; event: string; data: string }[] = [];
    for (let end = this.buffer.indexOf('\n\n'); end >= 0; end = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let id: string | undefined;
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '') continue;
        if (line.startsWith(':')) {
          this.onComment(line.slice(1).trim());
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) out.push({ id, event, data: data.join('\n') });
    }
    return out;
  }
}

/**
 * The global event log, live, from the gateway (`GET /api/v1/system/events/stream`): every event after
 * `after`, in log order, then each new one as it is appended, until `signal` aborts. A dropped connection is
 * opened again from the last position received (`Last-Event-ID`), so nothing is missed or repeated; a refusal
 * (bad token, no read permission, bad position) ends the iteration with the platform's error.
 */
export async function* followEventLog(target: PlatformTarget, options: FollowOptions = {}): AsyncGenerator<FollowedEvent, void, undefined> {
  let last = options.after;
  while (!options.signal?.aborted) {
    let res: Response;
    try {
      res = await fetch(`${target.url}/api/v1/system/events/stream`, {
        headers: {
          authorization: `Bearer ${target.token}`,
          accept: 'text/event-stream',
          ...(last === undefined ? {} : { 'last-event-id': String(last) }),
        },
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (cause) {
      if (options.signal?.aborted) return;
      if (last === undefined)
        throw new PowernodeError('rpc_no_responder', `cannot reach the platform at ${target.url}: start it with npm start or set POWERNODE_URL`, { cause });
      options.onReconnect?.(last, (cause as Error).message);
      await pause(options.retryMs ?? 1000, options.signal);
      continue;
    }
    if (!res.ok) throw platformRefusal(res.status, await res.text());
    // The stream's first comment names the position it starts after: where to resume if it drops before an event.
    const parser = new ServerSentEventParser((comment) => {
      const start = /^position (\d+)$/.exec(comment);
      if (!start) return;
      if (last === undefined) last = Number(start[1]);
      options.onOpen?.(Number(start[1]));
    });
    const decoder = new TextDecoder();
    let cause = 'the platform closed the stream';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const message of parser.push(decoder.decode(chunk, { stream: true }))) {
          if (message.event !== 'log' || message.id === undefined) continue;
          const position = Number(message.id);
          last = position;
          yield { position, event: JSON.parse(message.data) as Record<string, unknown> };
        }
      }
    } catch (error) {
      if (options.signal?.aborted) return;
      cause = (error as Error).message;
    }
    if (options.signal?.aborted) return;
    options.onReconnect?.(last ?? 0, cause);
    await pause(options.retryMs ?? 1000, options.signal);
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
