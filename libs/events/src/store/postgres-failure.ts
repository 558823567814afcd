import { PowernodeError, isPowernodeError } from '@powernode/contracts';

/** Wraps a PostgreSQL driver failure (connection refused or lost, server shutting down) as `store_unavailable`. */
export function postgresFailure(operation: string, cause: unknown): PowernodeError {
  if (isPowernodeError(cause)) return cause;
  const code = (cause as { code?: string }).code ?? 'unknown';
  return new PowernodeError(
    'store_unavailable',
    `PostgreSQL event store ${operation} failed (${code}: ${(cause as Error).message}): check that the server is reachable at EVENT_STORE_URL, then retry`,
    {
      details: { operation, code },
      cause,
    },
  );
}
