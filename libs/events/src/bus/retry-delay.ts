export interface BackoffPolicy {
  /** Delay before the second delivery. Default 1000 ms. */
  initial_ms: number;
  /** Ceiling of the delay. Default 60000 ms. */
  max_ms: number;
  /** Growth per attempt. Default 2. */
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initial_ms: 1000, max_ms: 60_000, factor: 2 };

/** Delay before redelivering a message whose `attempt`-th delivery failed (1-based): initial × factor^(attempt−1), capped. */
export function retryDelayMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exponent = Math.max(0, attempt - 1);
  return Math.min(policy.max_ms, Math.round(policy.initial_ms * policy.factor ** exponent));
}
