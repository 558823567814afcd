import { provisionerEventSchemas, type InstanceStatus } from '@powernode/contracts';
import { given } from '@powernode/testing';
import { assertAcceptsCommands } from './instance-exec.js';
import { instanceDecider, type InstanceCommand } from './instance.decider.js';
import { heartbeatReceived, historyTo, INSTANCE_ID, NODE_ID, T1, T3, terminated } from './provisioner-fixtures.test-support.js';
import { stateFromEvents } from '@powernode/events';

const ARGV = ['/bin/cat', '/etc/redis/redis.conf'];
const recordExecution = (overrides: Partial<Extract<InstanceCommand, { type: 'RecordCommandExecution' }>> = {}): InstanceCommand => ({
  type: 'RecordCommandExecution',
  instance_id: INSTANCE_ID,
  argv: ARGV,
  outcome: { exit_code: 0, timed_out: false, truncated: false, duration_ms: 42 },
  requested_by: 'operator',
  now: T3,
  ...overrides,
});
const executed = (overrides: Record<string, unknown> = {}) => ({
  type: 'InstanceCommandExecuted' as const,
  data: {
    instance_id: INSTANCE_ID,
    argv: ARGV,
    exit_code: 0,
    timed_out: false,
    truncated: false,
    duration_ms: 42,
    requested_by: 'operator',
    executed_at: T3,
    ...overrides,
  },
});

describe('instance decider: RecordCommandExecution', () => {
  it.each(['starting', 'running', 'rebooting'] as const)('records what ran on a %s instance, how it ended and who asked — not its output', (status) => {
    given(instanceDecider, historyTo(status)).when(recordExecution()).then([executed()]);
  });

  it('records a command that failed or timed out with its exit code', () => {
    given(instanceDecider, [...historyTo('running'), heartbeatReceived(T1)])
      .when(recordExecution({ outcome: { exit_code: 124, timed_out: true, truncated: true, duration_ms: 60_000 } }))
      .then([executed({ exit_code: 124, timed_out: true, truncated: true, duration_ms: 60_000 })]);
  });

  it('records every execution: running the same command again is a new fact', () => {
    given(instanceDecider, [...historyTo('running'), executed()])
      .when(recordExecution())
      .then([executed()]);
  });

  it('refuses an instance that does not exist (not_found)', () => {
    given(instanceDecider, []).when(recordExecution()).thenRefuses({ code: 'not_found', rule: 'instance_must_exist' });
  });

  it('refuses a terminated instance (instance_terminated) naming the node to provision again', () => {
    given(instanceDecider, [...historyTo('running'), terminated('running', T3)])
      .when(recordExecution())
      .thenRefuses({
        code: 'instance_terminated',
        rule: 'instance_terminated',
        message: /is terminated: it is gone .* provision a new instance/,
        details: { node_id: NODE_ID },
      });
  });

  it.each(['stopping', 'stopped', 'error'] as const)('refuses a %s instance (instance_not_running) saying to start it', (status) => {
    given(instanceDecider, historyTo(status))
      .when(recordExecution())
      .thenRefuses({
        code: 'instance_not_running',
        rule: 'instance_must_run',
        message: /start it \(powernode instances start/,
        details: { instance_status: status },
      });
  });

  it.each(['pending', 'provisioning'] as const)('refuses a %s instance (instance_not_running) saying to wait', (status) => {
    given(instanceDecider, historyTo(status))
      .when(recordExecution())
      .thenRefuses({ code: 'instance_not_running', message: /wait until it runs/ });
  });

  it('changes nothing about the instance when folded', () => {
    const before = stateFromEvents(instanceDecider, historyTo('running'));
    expect(stateFromEvents(instanceDecider, [...historyTo('running'), executed()])).toEqual(before);
  });

  it('emits data the published event schema accepts', () => {
    const [event] = given(instanceDecider, historyTo('running')).when(recordExecution()).events();
    expect(provisionerEventSchemas.InstanceCommandExecuted.safeParse(event!.data).success).toBe(true);
  });
});

describe('assertAcceptsCommands (checked before the driver is asked)', () => {
  const statuses: [InstanceStatus, string | null][] = [
    ['pending', 'instance_not_running'],
    ['provisioning', 'instance_not_running'],
    ['starting', null],
    ['running', null],
    ['stopping', 'instance_not_running'],
    ['stopped', 'instance_not_running'],
    ['rebooting', null],
    ['error', 'instance_not_running'],
    ['terminated', 'instance_terminated'],
  ];

  it.each(statuses)('%s → %s', (status, code) => {
    const state = stateFromEvents(instanceDecider, historyTo(status));
    if (code === null) expect(assertAcceptsCommands(state, INSTANCE_ID)).toMatchObject({ status });
    else expect(() => assertAcceptsCommands(state, INSTANCE_ID)).toThrow(expect.objectContaining({ code }));
  });
});
