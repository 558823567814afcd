import { setTimeout as sleep } from 'node:timers/promises';

/** What a probe answers while the awaited thing has not happened yet. */
export type NotYet = null | undefined | false;

/**
 * Asks `probe` every `intervalMs` until it answers something other than null, undefined or false, and answers
 * that; undefined when `timeoutMs` passed first. The probe always runs at least once, and once more at the end.
 */
export async function pollUntil<T>(
  probe: () => T | NotYet | Promise<T | NotYet>,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<Exclude<T, NotYet> | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const answer = await probe();
    if (answer !== null && answer !== undefined && answer !== false) return answer as Exclude<T, NotYet>;
    if (Date.now() >= deadline) return undefined;
    await sleep(options.intervalMs ?? 100);
  }
}
