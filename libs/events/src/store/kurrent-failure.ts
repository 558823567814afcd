import { PowernodeError, isPowernodeError } from '@powernode/contracts';

/** Wraps a KurrentDB client failure (unreachable, deadline exceeded, not leader) as `store_unavailable`. */
export function kurrentFailure(operation: string, cause: unknown): PowernodeError {
  if (isPowernodeError(cause)) return cause;
  const type = (cause as { type?: string }).type ?? 'unknown';
  return new PowernodeError(
    'store_unavailable',
    `KurrentDB event store ${operation} failed (${type}: ${(cause as Error).message}): check that the server is reachable at EVENT_STORE_URL, then retry`,
    {
      details: { operation, type },
      cause,
    },
  );
}

/** True for the errors KurrentDB raises when a stream never existed or was deleted: both read as "no events". */
export function isMissingStream(cause: unknown): boolean {
  const type = (cause as { type?: string }).type;
  return type === 'stream-not-found' || type === 'stream-deleted';
}
