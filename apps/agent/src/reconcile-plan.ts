import type { AgentDesiredState } from '@powernode/contracts';
import { compositionKey, retryDelayMs, type Composition, type ReconcileError } from './composition-state.js';

/*
 * The agent's decisions as pure functions over plain data: what a desired state asks of the composition that
 * runs, and when the next attempt is due. The agent's loop does the I/O around them.
 */

/** What to do with a desired state. */
export type ReconcilePlan =
  /** The desired state is not this instance's: nothing changes. */
  | { kind: 'refuse'; errors: ReconcileError[] }
  /** The composition that runs is the desired generation. */
  | { kind: 'up_to_date' }
  /** Same modules and layers under a new generation (it moved for another reason): only the name changes. */
  | { kind: 'adopt_generation'; generation: string }
  /** A new composition. */
  | { kind: 'compose'; key: string };

export function planReconcile(instanceId: string, committed: Composition | null, desired: AgentDesiredState): ReconcilePlan {
  if (desired.instance_id !== instanceId) {
    return {
      kind: 'refuse',
      errors: [{ module_name: null, message: `the desired state is for instance ${desired.instance_id}, not ${instanceId}; nothing changed` }],
    };
  }
  if (committed?.generation === desired.generation) return { kind: 'up_to_date' };
  const key = compositionKey(desired.modules);
  if (committed !== null && committed.composition_key === key) return { kind: 'adopt_generation', generation: desired.generation };
  return { kind: 'compose', key };
}

/** Where the agent stands with the generation the platform wants and its failed attempts. */
export interface AttemptBook {
  /** The generation the platform wants, as last heard (null: ask). */
  desired: string | null;
  /** The generation whose last attempt failed, and how many attempts failed in a row. */
  failed: string | null;
  failedAttempts: number;
  /** No attempt before this time (ms since the epoch). */
  nextAttemptAt: number;
  /**
   * A generation the machine rolled back from: its modules did not come up, so trying it again would only take
   * the running services down again. Not retried until the platform wants another generation.
   */
  rolledBack: string | null;
}

export const EMPTY_BOOK: AttemptBook = { desired: null, failed: null, failedAttempts: 0, nextAttemptAt: 0, rolledBack: null };

/** True while the desired generation is not the one that runs (or is unknown). */
export function desiredDiffers(book: AttemptBook, committedGeneration: string | null): boolean {
  return book.desired === null || book.desired !== committedGeneration;
}

/** True when an attempt at the desired generation should start now. */
export function attemptDue(book: AttemptBook, committedGeneration: string | null, now: number): boolean {
  if (book.desired !== null && book.desired === book.rolledBack) return false;
  return desiredDiffers(book, committedGeneration) && now >= book.nextAttemptAt;
}

/** The book after a failed attempt at `generation`: attempts at the same one back off exponentially. */
export function afterFailure(book: AttemptBook, generation: string | null, now: number, retry: { initialMs: number; maxMs: number }): AttemptBook {
  const failedAttempts = (generation === book.failed ? book.failedAttempts : 0) + 1;
  return { ...book, failed: generation, failedAttempts, nextAttemptAt: now + retryDelayMs(failedAttempts, retry.initialMs, retry.maxMs) };
}

/** The book after the desired generation runs. */
export function afterSuccess(book: AttemptBook): AttemptBook {
  return { ...book, failed: null, failedAttempts: 0, nextAttemptAt: 0 };
}

/**
 * The book after a heartbeat answered which generation the platform wants. `clearErrors` is true when the
 * platform went back to the generation that runs (it withdrew the failing one): nothing is left to reconcile,
 * so nothing else would clear the failed generation's errors.
 */
export function afterDesiredHeard(book: AttemptBook, desired: string, committedGeneration: string | null): { book: AttemptBook; clearErrors: boolean } {
  if (desired === book.desired) return { book, clearErrors: false };
  // A generation other than the one that keeps failing is tried at once.
  const next = { ...book, desired, ...(desired !== book.failed ? { nextAttemptAt: 0 } : {}) };
  if (book.failed !== null && desired === committedGeneration) return { book: afterSuccess(next), clearErrors: true };
  return { book: next, clearErrors: false };
}
