import { ServerSentEventParser } from './event-log-follow.js';

describe('ServerSentEventParser', () => {
  it('yields each event once it is complete, however the text is cut into chunks', () => {
    const text = 'retry: 1000\n: position 7\n\nid: 8\nevent: log\ndata: {"a":1}\n\nid: 9\r\nevent: log\r\ndata: {"b":\r\ndata: 2}\r\n\r\n';
    const comments: string[] = [];
    for (const size of [1, 2, 5, 13, text.length]) {
      const parser = new ServerSentEventParser((c) => comments.push(c));
      const out = [];
      for (let i = 0; i < text.length; i += size) out.push(...parser.push(text.slice(i, i + size)));
      expect(out).toEqual([
        { id: '8', event: 'log', data: '{"a":1}' },
        { id: '9', event: 'log', data: '{"b":\n2}' },
      ]);
    }
    expect(new Set(comments)).toEqual(new Set(['position 7']));
  });

  it('holds back an event whose blank line has not come yet', () => {
    const parser = new ServerSentEventParser();
    expect(parser.push('id: 1\nevent: log\ndata: {}\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([{ id: '1', event: 'log', data: '{}' }]);
  });
});
