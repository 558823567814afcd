import type { AgentDesiredModule, AgentDesiredState } from '@powernode/contracts';
import { compositionKey, type Composition } from '../src/composition-state.js';
import { afterDesiredHeard, afterFailure, afterSuccess, attemptDue, EMPTY_BOOK, planReconcile, type AttemptBook } from '../src/reconcile-plan.js';

const DIGEST = (n: number) => `sha256:${String(n).padStart(64, '0')}`;

function module(name: string, n: number): AgentDesiredModule {
  return {
    module_name: name,
    version_id: `${name}-v${n}`,
    version_string: `1.0.${n}`,
    oci_ref: `registry.test/${name}@${DIGEST(n)}`,
    oci_digest: DIGEST(n),
    composefs_digest: DIGEST(n + 100),
    priority: n,
    effective_mask: [],
    init: { start: null, stop: null, restart: null },
  };
}

function desired(generation: string, modules: AgentDesiredModule[], instance_id = 'i-1'): AgentDesiredState {
  return { instance_id, generation, modules, unresolved: [] };
}

function composed(generation: string, modules: AgentDesiredModule[]): Composition {
  return { generation, root_dir: `roots/${generation}`, composed_root_hash: DIGEST(999), composition_key: compositionKey(modules), modules: [] };
}

describe('planReconcile', () => {
  const redis = module('redis', 1);

  it('refuses a desired state meant for another instance, naming both', () => {
    const plan = planReconcile('i-1', null, desired('g1', [redis], 'i-2'));
    expect(plan).toEqual({ kind: 'refuse', errors: [{ module_name: null, message: expect.stringContaining('for instance i-2, not i-1') }] });
  });

  it('does nothing when the desired generation runs', () => {
    expect(planReconcile('i-1', composed('g1', [redis]), desired('g1', [redis]))).toEqual({ kind: 'up_to_date' });
  });

  it('adopts a new generation with the same modules without composing (listing order does not matter)', () => {
    const base = module('base', 2);
    expect(planReconcile('i-1', composed('g1', [redis, base]), desired('g2', [base, redis]))).toEqual({ kind: 'adopt_generation', generation: 'g2' });
  });

  it('composes when nothing runs yet or the modules changed', () => {
    expect(planReconcile('i-1', null, desired('g1', [redis]))).toEqual({ kind: 'compose', key: compositionKey([redis]) });
    const upgraded = module('redis', 3);
    expect(planReconcile('i-1', composed('g1', [redis]), desired('g2', [upgraded]))).toEqual({ kind: 'compose', key: compositionKey([upgraded]) });
  });
});

describe('attempt book', () => {
  const retry = { initialMs: 100, maxMs: 1_000 };

  it('backs off exponentially on the same failing generation, capped, and starts over for another one', () => {
    let book: AttemptBook = { ...EMPTY_BOOK, desired: 'g2' };
    book = afterFailure(book, 'g2', 0, retry);
    expect(book.nextAttemptAt).toBe(100);
    book = afterFailure(book, 'g2', 0, retry);
    expect(book.nextAttemptAt).toBe(200);
    for (let i = 0; i < 10; i++) book = afterFailure(book, 'g2', 0, retry);
    expect(book.nextAttemptAt).toBe(1_000);
    expect(afterFailure(book, 'g3', 0, retry)).toMatchObject({ failed: 'g3', failedAttempts: 1, nextAttemptAt: 100 });
  });

  it('is due when the desired generation differs and the backoff has passed, never for a rolled-back one', () => {
    const book = { ...EMPTY_BOOK, desired: 'g2', nextAttemptAt: 500 };
    expect(attemptDue(book, 'g1', 499)).toBe(false);
    expect(attemptDue(book, 'g1', 500)).toBe(true);
    expect(attemptDue(book, 'g2', 500)).toBe(false);
    expect(attemptDue({ ...book, rolledBack: 'g2' }, 'g1', 10_000)).toBe(false);
    // Unknown desired generation: ask.
    expect(attemptDue(EMPTY_BOOK, 'g1', 0)).toBe(true);
  });

  it('tries a newly desired generation at once, but keeps backing off when the failing one is heard again', () => {
    const failing = afterFailure({ ...EMPTY_BOOK, desired: 'g2' }, 'g2', 0, retry);
    expect(afterDesiredHeard(failing, 'g3', 'g1')).toEqual({ book: { ...failing, desired: 'g3', nextAttemptAt: 0 }, clearErrors: false });
    const other = afterDesiredHeard({ ...failing, desired: 'g3' }, 'g2', 'g1');
    expect(other.book.nextAttemptAt).toBe(failing.nextAttemptAt);
  });

  it('clears the failure when the platform withdraws the failing generation and wants the running one again', () => {
    const failing = afterFailure({ ...EMPTY_BOOK, desired: 'g2' }, 'g2', 0, retry);
    expect(afterDesiredHeard(failing, 'g1', 'g1')).toEqual({ book: { ...afterSuccess(failing), desired: 'g1' }, clearErrors: true });
  });
});
