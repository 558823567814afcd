/** One server-sent event as the stream delivered it. */
export interface ServerSentEvent {
  id: string | null;
  event: string;
  data: string;
}

/**
 * Incremental text/event-stream parser (the WHATWG event-stream grammar, minus `retry`, which the reader
 * handles itself): feed it chunks as they arrive, it returns the events they complete. Comment lines
 * (keep-alives) are skipped; an event without data lines dispatches nothing.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | null = null;
  /** The last id seen, kept across events as the spec says: what a reconnect sends as Last-Event-ID. */
  lastEventId: string | null = null;

  push(chunk: string): ServerSentEvent[] {
    this.buffer += chunk;
    const out: ServerSentEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone \r at the end of a chunk may be the first half of \r\n: wait for the next chunk.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) out.push(event);
    }
    return out;
  }

  private line(line: string): ServerSentEvent | null {
    if (line === '') {
      if (this.id !== null) this.lastEventId = this.id;
      const event = this.data.length > 0 ? { id: this.lastEventId, event: this.event || 'message', data: this.data.join('\n') } : null;
      this.data = [];
      this.event = '';
      this.id = null;
      return event;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    return null;
  }
}
