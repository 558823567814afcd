import { PowernodeError, type InstanceExecResult, type InstanceStatus } from '@powernode/contracts';
import type { InstanceCommand, InstanceEvent, InstanceRecord, InstanceState } from './instance.decider.js';
import { existingInstance } from './instance-refusals.js';

/*
 * Commands an operator runs on an instance (`powernode instances exec`). Whether one may run is decided on
 * the instance's stream before the driver is asked; that it ran is recorded afterwards — what ran, how it
 * ended, who asked — but never its output.
 */

/** Statuses in which the instance's runtime is up (or coming up) and can be asked to run a command. */
const STATUSES_THAT_RUN_COMMANDS: readonly InstanceStatus[] = ['starting', 'running', 'rebooting'];

/** The instance, when a command may run on it; else `not_found`, `instance_terminated` or `instance_not_running`. */
export function assertAcceptsCommands(state: InstanceState, instanceId: string): InstanceRecord {
  const instance = existingInstance(state, instanceId);
  if (instance.status === 'terminated') {
    throw new PowernodeError(
      'instance_terminated',
      `instance ${instanceId} is terminated: it is gone and runs nothing any more; provision a new instance of its node ${instance.node_id}`,
      {
        details: { instance_id: instanceId, node_id: instance.node_id, instance_status: instance.status, rule: 'instance_terminated' },
      },
    );
  }
  if (!STATUSES_THAT_RUN_COMMANDS.includes(instance.status)) {
    const what =
      instance.status === 'pending' || instance.status === 'provisioning' ? 'wait until it runs' : `start it (powernode instances start ${instanceId})`;
    throw new PowernodeError('instance_not_running', `instance ${instanceId} is ${instance.status}, not running: ${what} and run the command again`, {
      details: { instance_id: instanceId, instance_status: instance.status, allowed: [...STATUSES_THAT_RUN_COMMANDS], rule: 'instance_must_run' },
    });
  }
  return instance;
}

/** The facts of a finished command that are recorded (the output is not). */
export type CommandExecutionFacts = Pick<InstanceExecResult, 'exit_code' | 'timed_out' | 'truncated' | 'duration_ms'>;

/** Decides `RecordCommandExecution`: one InstanceCommandExecuted, unless the instance stopped accepting commands. */
export function recordCommandExecution(command: Extract<InstanceCommand, { type: 'RecordCommandExecution' }>, state: InstanceState): InstanceEvent[] {
  const instance = assertAcceptsCommands(state, command.instance_id);
  return [
    {
      type: 'InstanceCommandExecuted',
      data: {
        instance_id: instance.instance_id,
        argv: [...command.argv],
        exit_code: command.outcome.exit_code,
        timed_out: command.outcome.timed_out,
        truncated: command.outcome.truncated,
        duration_ms: command.outcome.duration_ms,
        requested_by: command.requested_by,
        executed_at: command.now,
      },
    },
  ];
}
