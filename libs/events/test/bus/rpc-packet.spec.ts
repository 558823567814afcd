import { NatsRequestJSONDeserializer, NatsResponseJSONDeserializer } from '@nestjs/microservices';
import { NatsRecordSerializer } from '@nestjs/microservices/serializers/nats-record.serializer.js';
import { decodeRpcReply, decodeRpcRequest, encodeRpcReply, encodeRpcRequest } from '../../src/bus/rpc-packet.js';

// Nest's own serializer and deserializers for its NATS transport, fed and read without a server: the codec must
// read what Nest writes and write what Nest reads. rpc.spec.ts checks the same over a real NATS server.
const nestSerializer = new NatsRecordSerializer();
const asMsg = (bytes: Uint8Array) => ({ json: () => JSON.parse(new TextDecoder().decode(bytes)) }) as never;
const nestBytes = (packet: object) => new TextEncoder().encode(nestSerializer.serialize(packet).data);

describe('RPC packets in Nest’s NATS format', () => {
  it('writes a request Nest’s server deserializes into pattern, data and id', async () => {
    const bytes = encodeRpcRequest({ pattern: 'catalog.module.get', data: { input: { module_name: 'my-redis' } }, id: 'req-1' });
    await expect(new NatsRequestJSONDeserializer().deserialize(asMsg(bytes), { channel: 'catalog.module.get' })).toEqual({
      pattern: 'catalog.module.get',
      data: { input: { module_name: 'my-redis' } },
      id: 'req-1',
    });
  });

  it('reads the id and data of a request Nest’s client serialized', () => {
    expect(decodeRpcRequest(nestBytes({ pattern: 'gateway.projections.replay', data: { projection: 'gateway-tokens' }, id: 'req-2' }))).toEqual({
      id: 'req-2',
      data: { projection: 'gateway-tokens' },
    });
  });

  it('reads a request that is no JSON as one without data, so the handler refuses it', () => {
    expect(decodeRpcRequest(new TextEncoder().encode('not json'))).toEqual({ id: null, data: undefined });
  });

  it('writes a reply Nest’s client takes as the whole response to its request', async () => {
    const reply = await new NatsResponseJSONDeserializer().deserialize(asMsg(encodeRpcReply('req-3', { ok: true, data: 7 })));
    expect(reply).toEqual({ id: 'req-3', response: { ok: true, data: 7 }, isDisposed: true });
  });

  it('reads the response of a reply Nest’s server serialized', () => {
    expect(decodeRpcReply(nestBytes({ response: { ok: true, data: 7 }, isDisposed: true, id: 'req-4' }))).toEqual({
      kind: 'response',
      response: { ok: true, data: 7 },
    });
  });

  it('reads Nest’s error packet (a handler that threw, or none for the pattern) as a failure with its message', () => {
    expect(decodeRpcReply(nestBytes({ id: 'req-5', status: 'error', err: 'There is no matching message handler defined in the remote service.' }))).toEqual({
      kind: 'failed',
      message: 'There is no matching message handler defined in the remote service.',
    });
    expect(decodeRpcReply(nestBytes({ id: 'req-6', err: { status: 'error', message: 'Internal server error' }, isDisposed: true }))).toEqual({
      kind: 'failed',
      message: 'Internal server error',
    });
  });

  it('reads anything else as malformed', () => {
    expect(decodeRpcReply(new TextEncoder().encode('<html>'))).toEqual({ kind: 'malformed' });
    expect(decodeRpcReply(new TextEncoder().encode('null'))).toEqual({ kind: 'malformed' });
  });
});
