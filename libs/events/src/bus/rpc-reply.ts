import { z } from 'zod';
import { ERROR_CODES, type ErrorBody } from '@powernode/contracts';

/** The reply of every command and query: the data, or a coded error the caller can act on. */
export type RpcReply<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };

const errorCodeSchema = z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...(keyof typeof ERROR_CODES)[]]);

/** Wire shape of a reply, checked by the client before it trusts one. */
export const rpcReplySchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), data: z.unknown() }),
  z.object({
    ok: z.literal(false),
    error: z.object({ code: errorCodeSchema, message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
  }),
]);

/** A successful reply. */
export function rpcOk<T>(data: T): RpcReply<T> {
  return { ok: true, data };
}

/** A refused or failed reply. */
export function rpcFailure(error: ErrorBody): RpcReply<never> {
  return { ok: false, error };
}
