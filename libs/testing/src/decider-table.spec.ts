import { PowernodeError } from '@powernode/contracts';
import type { Decider } from '@powernode/events';
import { given, refusalOf } from './decider-table.js';

type CounterCommand = { type: 'Add'; by: number };
type CounterEvent = { type: 'Added'; data: { by: number } };

/** A counter that refuses to go above 10 and refuses a non-positive step. */
const counter: Decider<CounterCommand, number, CounterEvent> = {
  initialState: () => 0,
  evolve: (total, event) => total + event.data.by,
  decide: (command, total) => {
    if (command.by <= 0)
      throw new PowernodeError('validation_failed', `step must be positive, got ${command.by}`, { details: { rule: 'positive_step', by: command.by } });
    if (total + command.by > 10)
      throw new PowernodeError('invalid_transition', `total would be ${total + command.by}, above 10`, { details: { rule: 'at_most_ten', total } });
    return [{ type: 'Added', data: { by: command.by } }];
  },
};

const added = (by: number): CounterEvent => ({ type: 'Added', data: { by } });

describe('decider tables', () => {
  it('given folds the history into the state the command is decided on', () => {
    expect(given(counter, [added(2), added(3)]).state).toBe(5);
    expect(given(counter, []).state).toBe(0);
  });

  it('then passes on the decided events and fails on other events', () => {
    given(counter, [added(2)])
      .when({ type: 'Add', by: 3 })
      .then([added(3)]);
    expect(() =>
      given(counter, [added(2)])
        .when({ type: 'Add', by: 3 })
        .then([added(4)]),
    ).toThrow();
    expect(
      given(counter, [added(9)])
        .when({ type: 'Add', by: 1 })
        .events(),
    ).toEqual([added(1)]);
  });

  it('thenRefuses checks the code, the rule, the message and the details the refusal carries', () => {
    const refused = given(counter, [added(9)]).when({ type: 'Add', by: 2 });
    refused.thenRefuses({ code: 'invalid_transition' });
    refused.thenRefuses({ code: 'invalid_transition', rule: 'at_most_ten', message: /above 10/, details: { total: 9 } });
    expect(() => refused.thenRefuses({ code: 'validation_failed' })).toThrow();
    expect(() => refused.thenRefuses({ code: 'invalid_transition', rule: 'positive_step' })).toThrow();
    expect(() => refused.thenRefuses({ code: 'invalid_transition', message: /below/ })).toThrow();
    expect(() => refused.thenRefuses({ code: 'invalid_transition', details: { total: 8 } })).toThrow();
  });

  it('thenRefuses fails when the command is accepted', () => {
    expect(() => given(counter, []).when({ type: 'Add', by: 1 }).thenRefuses({ code: 'invalid_transition' })).toThrow(/expected the command to be refused/);
  });

  it('refusalOf returns the PowernodeError fields and rethrows any other error', () => {
    expect(refusalOf(() => counter.decide({ type: 'Add', by: 0 }, 0))).toEqual({
      code: 'validation_failed',
      message: 'step must be positive, got 0',
      details: { rule: 'positive_step', by: 0 },
    });
    expect(() =>
      refusalOf(() => {
        throw new TypeError('not a refusal');
      }),
    ).toThrow(TypeError);
    expect(() => refusalOf(() => 42)).toThrow(/expected the command to be refused, but it was accepted/);
  });
});
