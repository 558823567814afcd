import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { PowernodeError } from '@powernode/contracts';
import { z } from 'zod';
import { BUS_HEADERS } from '../../src/bus/event-message.js';
import { RpcClient } from '../../src/bus/rpc-client.js';
import { rpcHandler } from '../../src/bus/rpc-handler.js';
import { serveRpc } from '../../src/bus/rpc-responder.js';
import { streamedRpcHandler, type StreamedReplyItem } from '../../src/bus/rpc-stream.js';
import { NATS_URL, uniqueId } from './bus-fixture.js';

/*
 * Streamed answers against a real nats-server: parts in order then the end, answers beyond one message's
 * max_payload, refusals before any part, and a reader that notices lost parts, a missing end, and tells the
 * handler when it stops listening.
 */

const text = (data: Uint8Array): string => new TextDecoder().decode(data);

async function collect<T>(items: AsyncIterable<StreamedReplyItem<T>>): Promise<StreamedReplyItem<T>[]> {
  const all: StreamedReplyItem<T>[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe('streamed RPC answers', () => {
  let nc: NatsConnection;
  let client: RpcClient;
  const prefix = `pntest.${uniqueId()}.stream`;
  const served: { stop(): Promise<void> }[] = [];
  const cancelled: string[] = [];

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    client = await RpcClient.connect(NATS_URL, { default_timeout_ms: 5000 });
    const count = streamedRpcHandler(
      nc,
      z.object({ upto: z.number().int(), delay_ms: z.number().int().default(0) }),
      async ({ upto, delay_ms }, _context, writer) => {
        for (let n = 1; n <= upto; n++) {
          writer.part(n % 2 === 0 ? 'even' : 'odd', new TextEncoder().encode(String(n)));
          if (delay_ms > 0) await new Promise((r) => setTimeout(r, delay_ms));
        }
        await writer.end({ total: upto });
        return { total: upto };
      },
    );
    const large = streamedRpcHandler(nc, z.object({ bytes: z.number().int() }), async ({ bytes }, _context, writer) => {
      writer.part('data', new Uint8Array(bytes).fill(0x61));
      await writer.end({ bytes });
      return { bytes };
    });
    const refuse = streamedRpcHandler(nc, z.object({}), async () => {
      throw new PowernodeError('not_found', 'nothing to stream here');
    });
    const endless = streamedRpcHandler(nc, z.object({}), async (_input, context, writer) => {
      writer.part('tick', new Uint8Array(0));
      await new Promise<void>((resolve) => writer.signal.addEventListener('abort', () => resolve(), { once: true }));
      cancelled.push(context.correlation_id);
      return {};
    });
    served.push(
      serveRpc(nc, `${prefix}.count`, count),
      serveRpc(nc, `${prefix}.large`, large),
      serveRpc(nc, `${prefix}.refuse`, refuse),
      serveRpc(nc, `${prefix}.endless`, endless),
    );
    // Publishes parts by hand: seq 0, then seq 2 (part 1 "lost"), or no end at all.
    served.push(
      serveRpc(
        nc,
        `${prefix}.gappy`,
        rpcHandler(z.object({ skip: z.boolean() }), async ({ skip }, context) => {
          const publish = (seq: number, part: string) => {
            const h = natsHeaders();
            h.set(BUS_HEADERS.stream_seq, String(seq));
            h.set(BUS_HEADERS.stream_part, part);
            nc.publish(context.stream_subject!, new TextEncoder().encode('{}'), { headers: h });
          };
          publish(0, 'data');
          if (skip) publish(2, 'data');
          await nc.flush();
          return {};
        }),
      ),
    );
    await nc.flush();
  });

  afterAll(async () => {
    for (const s of served) await s.stop();
    await client.close();
    await nc.close();
  });

  it('yields the parts in the order they were written, then the end', async () => {
    const items = await collect(client.requestStream<{ total: number }>(`${prefix}.count`, { upto: 5 }));
    expect(items.map((i) => (i.type === 'part' ? `${i.part}:${text(i.data)}` : i))).toEqual([
      'odd:1',
      'even:2',
      'odd:3',
      'even:4',
      'odd:5',
      { type: 'end', data: { total: 5 } },
    ]);
  });

  it('hands on each part as it comes, before the handler has finished', async () => {
    const started = Date.now();
    const arrivals: number[] = [];
    for await (const item of client.requestStream(`${prefix}.count`, { upto: 3, delay_ms: 400 })) arrivals.push(Date.now() - started);
    expect(arrivals).toHaveLength(4);
    expect(arrivals[3]! - arrivals[0]!).toBeGreaterThanOrEqual(1000);
  });

  it('splits a part beyond max_payload and delivers all of it (3 MiB)', async () => {
    const bytes = 3 * 1024 * 1024;
    const items = await collect(client.requestStream(`${prefix}.large`, { bytes }, { timeout_ms: 20_000 }));
    const parts = items.filter((i) => i.type === 'part');
    expect(parts.length).toBeGreaterThan(3);
    expect(parts.reduce((sum, p) => sum + (p.type === 'part' ? p.data.length : 0), 0)).toBe(bytes);
    expect(items.at(-1)).toEqual({ type: 'end', data: { bytes } });
  });

  it('throws the handler refusal when it refuses before any part', async () => {
    await expect(collect(client.requestStream(`${prefix}.refuse`, {}))).rejects.toMatchObject({ code: 'not_found', message: 'nothing to stream here' });
  });

  it('refuses a request sent without a stream subject (plain request)', async () => {
    await expect(client.request(`${prefix}.count`, { upto: 1 })).rejects.toMatchObject({
      code: 'validation_failed',
      details: { rule: 'stream_subject_required' },
    });
  });

  it('reports a lost part as stream_interrupted, naming the gap', async () => {
    await expect(collect(client.requestStream(`${prefix}.gappy`, { skip: true }))).rejects.toMatchObject({
      code: 'stream_interrupted',
      retryable: true,
      details: { expected_seq: 1, received_seq: 2, rule: 'stream_parts_in_sequence' },
    });
  });

  it('reports a missing end as stream_interrupted once the grace after the reply is over', async () => {
    await expect(collect(client.requestStream(`${prefix}.gappy`, { skip: false }, { end_grace_ms: 300 }))).rejects.toMatchObject({
      code: 'stream_interrupted',
      details: { parts_received: 1, rule: 'stream_end_required' },
    });
  });

  it('reports no responder at once', async () => {
    await expect(collect(client.requestStream(`${prefix}.nobody`, {}))).rejects.toMatchObject({ code: 'rpc_no_responder' });
  });

  it('tells the handler when the reader stops listening (aborted signal)', async () => {
    const abort = new AbortController();
    const correlation_id = `corr-${uniqueId()}`;
    const items = client.requestStream(`${prefix}.endless`, {}, { signal: abort.signal, correlation_id });
    expect((await items.next()).value).toMatchObject({ type: 'part', part: 'tick' });
    abort.abort();
    expect((await items.next()).done).toBe(true);
    const deadline = Date.now() + 5000;
    while (!cancelled.includes(correlation_id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(cancelled).toContain(correlation_id);
  });
});
