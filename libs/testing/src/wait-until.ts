import { pollUntil, type NotYet } from '@powernode/runtime';

/**
 * Polls `probe` until it answers something other than null, undefined or false, and answers that; fails naming
 * `what` after `timeoutMs`. A liveness bound for tests, not a timing assertion: keep limits generous.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => T | NotYet | Promise<T | NotYet>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<Exclude<T, NotYet>> {
  const answer = await pollUntil(probe, { timeoutMs, intervalMs });
  if (answer === undefined) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  return answer;
}
