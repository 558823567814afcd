import { isPowernodeError, type ErrorCode } from '@powernode/contracts';
import { retryDelayMs, type BackoffPolicy } from './retry-delay.js';

/** Why a message was parked on the dead-letter subject. */
export type DeadLetterReason = 'terminal_error' | 'max_deliver' | 'undecodable';

/** What the consumer does with a message whose handler failed. */
export type FailureOutcome = { kind: 'retry'; delay_ms: number; code: ErrorCode } | { kind: 'dead_letter'; reason: DeadLetterReason; code: ErrorCode };

/**
 * Decides between redelivery and the dead-letter subject: a PowernodeError marked terminal is parked at
 * once; anything else (retryable codes, unexpected exceptions) is retried with exponential backoff until the
 * `attempt`-th delivery reaches `maxDeliver`.
 */
export function failureOutcome(error: unknown, attempt: number, maxDeliver: number, backoff: BackoffPolicy): FailureOutcome {
  const code: ErrorCode = isPowernodeError(error) ? error.code : 'internal';
  if (isPowernodeError(error) && !error.retryable) return { kind: 'dead_letter', reason: 'terminal_error', code };
  if (attempt >= maxDeliver) return { kind: 'dead_letter', reason: 'max_deliver', code };
  return { kind: 'retry', delay_ms: retryDelayMs(attempt, backoff), code };
}
