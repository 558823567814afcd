import { SseParser } from '../src/live/sse-parser.js';

describe('SseParser', () => {
  it('dispatches an event at the blank line, with its id, type and data', () => {
    const p = new SseParser();
    expect(p.push('id: 7\nevent: log\ndata: {"a":1}\n\n')).toEqual([{ id: '7', event: 'log', data: '{"a":1}' }]);
    expect(p.lastEventId).toBe('7');
  });

  it('assembles events split anywhere across chunks, \\r\\n included', () => {
    const p = new SseParser();
    const text = 'id: 1\r\nevent: log\r\ndata: x\r\n\r\nid: 2\r\ndata: y\r\n\r\n';
    const out = [];
    for (const ch of text) out.push(...p.push(ch));
    expect(out).toEqual([
      { id: '1', event: 'log', data: 'x' },
      { id: '2', event: 'message', data: 'y' },
    ]);
  });

  it('skips comments (keep-alives) and retry lines, and dispatches nothing for an event without data', () => {
    const p = new SseParser();
    expect(p.push(': keep-alive\n\nretry: 1000\n: position 4\n\n')).toEqual([]);
    expect(p.push('id: 9\n\n')).toEqual([]);
    expect(p.lastEventId).toBe('9');
  });

  it('joins several data lines with a newline and keeps the last id for events that carry none', () => {
    const p = new SseParser();
    expect(p.push('id: 3\ndata: a\ndata: b\n\ndata: c\n\n')).toEqual([
      { id: '3', event: 'message', data: 'a\nb' },
      { id: '3', event: 'message', data: 'c' },
    ]);
  });
});
