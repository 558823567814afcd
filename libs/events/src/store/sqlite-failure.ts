import { PowernodeError, isPowernodeError } from '@powernode/contracts';

/** Wraps a SQLite driver failure (lock wait timed out, I/O error, full disk) as a retryable `store_unavailable`. */
export function sqliteFailure(operation: string, cause: unknown): PowernodeError {
  if (isPowernodeError(cause)) return cause;
  const code = (cause as { code?: string }).code ?? 'unknown';
  const hint = code.startsWith('SQLITE_BUSY') ? 'another process held the write lock past the busy timeout: retry' : 'check the disk and the file, then retry';
  return new PowernodeError('store_unavailable', `SQLite event store ${operation} failed (${code}: ${(cause as Error).message}): ${hint}`, {
    details: { operation, code },
    cause,
  });
}
