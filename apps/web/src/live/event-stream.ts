import type { LoggedEvent } from '../api/api-types.js';
import { SseParser } from './sse-parser.js';

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface EventStreamOptions {
  url: string;
  token: () => string | null;
  onEvent: (event: LoggedEvent) => void;
  onState: (state: StreamState) => void;
  /** 401: the token is no longer valid; the stream stops. */
  onUnauthorized: () => void;
  /** Start after this global position instead of at the head. */
  after?: number;
}

/**
 * Reads the gateway's event stream with fetch (EventSource cannot send the bearer header, and a token in a URL
 * ends up in logs), parses it, and reconnects after a drop with the last id as `Last-Event-ID`, so no event is
 * missed or delivered twice across reconnects. Returns the function that closes it.
 */
export function openEventStream(options: EventStreamOptions): () => void {
  const abort = new AbortController();
  let lastId: string | null = options.after === undefined ? null : String(options.after);
  let retryMs = 1000;
  const run = async (): Promise<void> => {
    let first = true;
    while (!abort.signal.aborted) {
      options.onState(first ? 'connecting' : 'reconnecting');
      first = false;
      try {
        const token = options.token();
        const res = await fetch(options.url, {
          headers: {
            accept: 'text/event-stream',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(lastId !== null ? { 'last-event-id': lastId } : {}),
          },
          signal: abort.signal,
          cache: 'no-store',
        });
        if (res.status === 401) {
          options.onUnauthorized();
          break;
        }
        if (!res.ok || !res.body) throw new Error(`event stream answered ${res.status}`);
        options.onState('live');
        retryMs = 1000;
        const parser = new SseParser();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const message of parser.push(value)) {
            if (message.id !== null) lastId = message.id;
            if (message.event !== 'log') continue;
            options.onEvent(JSON.parse(message.data) as LoggedEvent);
          }
        }
      } catch {
        if (abort.signal.aborted) break;
      }
      if (abort.signal.aborted) break;
      await new Promise((r) => setTimeout(r, retryMs));
      retryMs = Math.min(retryMs * 2, 15_000);
    }
    options.onState('closed');
  };
  void run();
  return () => abort.abort();
}
