import { isPowernodeError, type ErrorCode } from '@powernode/contracts';
import { stateFromEvents, type Decider } from '@powernode/events';

/** The refusal a command must meet: the error code, the rule named in details, optionally message text and details. */
export interface Refusal {
  code: ErrorCode;
  rule?: string;
  message?: string | RegExp;
  details?: Record<string, unknown>;
}

/** Runs `run` and returns the PowernodeError it throws (fails the test when nothing is thrown). */
export function refusalOf(run: () => unknown): { code: string; message: string; details: Record<string, unknown> | undefined } {
  try {
    run();
  } catch (error) {
    if (!isPowernodeError(error)) throw error;
    return { code: error.code, message: error.message, details: error.details };
  }
  throw new Error('expected the command to be refused, but it was accepted');
}

/** A decider test table row: given(decider, history).when(command).then(events) / .thenRefuses({code, rule}). */
export function given<C, S, E>(decider: Decider<C, S, E>, history: readonly E[]) {
  const state = stateFromEvents(decider, history);
  return {
    state,
    when(command: C) {
      return {
        then(expected: E[]): void {
          expect(decider.decide(command, state)).toEqual(expected);
        },
        thenRefuses(refusal: Refusal): void {
          const error = refusalOf(() => decider.decide(command, state));
          expect(error.code).toBe(refusal.code);
          if (refusal.rule !== undefined) expect(error.details?.['rule']).toBe(refusal.rule);
          if (refusal.message !== undefined) expect(error.message).toMatch(refusal.message);
          if (refusal.details !== undefined) expect(error.details).toMatchObject(refusal.details);
        },
        events(): E[] {
          return decider.decide(command, state);
        },
      };
    },
  };
}
