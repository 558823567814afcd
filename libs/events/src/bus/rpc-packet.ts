// Our own codec rather than Nest's ClientNats on the sending side: a plain NATS request lets the server report
// "nobody listens" at once (rpc_no_responder, where ClientNats waits for its timeout), and the gateway answers
// RPCs without being a Nest microservice. Both directions speak Nest's NATS packets, so either end may be Nest.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A request as Nest's NATS transport carries it: the server runs the handler of `pattern` and echoes `id`. */
export interface RpcRequestPacket {
  pattern: string;
  data: unknown;
  id: string;
}

/** What a handler answered, or why there is no answer, as read from a reply packet. */
export type DecodedRpcReply =
  | { kind: 'response'; response: unknown }
  /** The handler failed outside its reply envelope (Nest's `err`), e.g. it threw instead of answering. */
  | { kind: 'failed'; message: string }
  /** Not a Nest reply packet at all. */
  | { kind: 'malformed' };

/** The bytes of a request packet for `pattern` carrying `data`. */
export function encodeRpcRequest(packet: RpcRequestPacket): Uint8Array {
  return encoder.encode(JSON.stringify({ pattern: packet.pattern, data: packet.data, id: packet.id }));
}

/**
 * The id and data of a request packet. Bytes that are no JSON object yield no data, which the handler's schema
 * refuses with validation_failed; a request is answered either way.
 */
export function decodeRpcRequest(bytes: Uint8Array): { id: unknown; data: unknown } {
  const packet = parseJson(bytes);
  if (packet === null || typeof packet !== 'object') return { id: null, data: undefined };
  const { id, data } = packet as { id?: unknown; data?: unknown };
  return { id: id ?? null, data };
}

/** The bytes of the one reply to request `id`: the whole response, so the caller's stream is done with it. */
export function encodeRpcReply(id: unknown, response: unknown): Uint8Array {
  return encoder.encode(JSON.stringify({ id, response, isDisposed: true }));
}

/** Reads a reply packet. */
export function decodeRpcReply(bytes: Uint8Array): DecodedRpcReply {
  const packet = parseJson(bytes);
  if (packet === null || typeof packet !== 'object') return { kind: 'malformed' };
  const { err, response } = packet as { err?: unknown; response?: unknown };
  if (err !== undefined && err !== null) {
    const message = typeof err === 'object' && 'message' in err ? String((err as { message: unknown }).message) : String(err);
    return { kind: 'failed', message };
  }
  return { kind: 'response', response };
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
}
