import {
  INSTANCE_EXEC_LIMITS,
  isPowernodeError,
  PowernodeError,
  provisionerStreams,
  type Actor,
  type ExecInstanceInput,
  type InstanceExecEnd,
  type InstanceExecPart,
  type InstanceExecResult,
} from '@powernode/contracts';
import { executeCommand, stateFromEvents, type EventStore, type RpcStreamWriter } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import { assertAcceptsCommands, instanceDecider, type InstanceEvent } from './domain/index.js';
import type { ExecOptions, HypervisorDriver } from './drivers/index.js';
import { ExecOutputCollector, fitExecReply } from './exec-reply.js';

export interface InstanceExecServiceDeps {
  store: EventStore;
  driver: HypervisorDriver;
  logger: Logger;
  clock?: () => Date;
}

/**
 * `system_exec_instance`: the instance's stream decides whether a command may run (unknown, terminated or not
 * running instances are refused before anything runs), the driver runs it, and the instance's stream records
 * that it ran (InstanceCommandExecuted: argv, exit code, duration, who asked; never the output). The output
 * is either collected into one reply or streamed as it comes; both record the run the same way.
 */
export class InstanceExecService {
  private readonly clock: () => Date;

  constructor(private readonly deps: InstanceExecServiceDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  /** Runs `input.argv` on the instance and answers with its exit code and output (cut to fit one reply). */
  async exec(input: ExecInstanceInput, actor: Actor, correlation_id: string): Promise<InstanceExecResult> {
    const output = new ExecOutputCollector(INSTANCE_EXEC_LIMITS.max_output_bytes);
    const end = await this.run(input, actor, correlation_id, { onOutput: output.add }, () => output.truncated);
    return fitExecReply(output.result(end));
  }

  /**
   * Runs `input.argv` on the instance with its output going to `writer` as it comes, uncut: a `started`
   * part once the command runs (refusals come before it, as the reply's error), each chunk a part named after
   * its stream, and the end part (exit code, timed out, duration) once the run is recorded. The command is
   * killed when the reader goes away.
   */
  async execStreamed(input: ExecInstanceInput, actor: Actor, correlation_id: string, writer: RpcStreamWriter): Promise<InstanceExecEnd> {
    const started: InstanceExecPart = 'started';
    const end = await this.run(
      input,
      actor,
      correlation_id,
      { onStart: () => writer.part(started, new Uint8Array(0)), onOutput: (stream, chunk) => writer.part(stream, chunk), signal: writer.signal },
      () => false,
    );
    await writer.end(end);
    return end;
  }

  private async run(
    input: ExecInstanceInput,
    actor: Actor,
    correlation_id: string,
    output: Pick<ExecOptions, 'onOutput' | 'signal' | 'onStart'>,
    truncated: () => boolean,
  ): Promise<InstanceExecEnd> {
    const stream = provisionerStreams.instance(input.id);
    const history = await this.deps.store.readStream(stream);
    const instance = assertAcceptsCommands(
      stateFromEvents(
        instanceDecider,
        history.map((e) => ({ type: e.type, data: e.data }) as InstanceEvent),
      ),
      input.id,
    );
    let end: InstanceExecEnd;
    try {
      end = await this.deps.driver.exec(input.id, input.argv, { timeoutMs: input.timeout_ms, ...output });
    } catch (error) {
      if (isPowernodeError(error) && error.code === 'not_found') {
        throw new PowernodeError(
          'not_found',
          `instance ${input.id} is ${instance.status} on record, but the ${this.deps.driver.kind} driver holds nothing for it (removed outside the platform?): terminate it and provision a new one`,
          {
            cause: error,
            details: { instance_id: input.id, instance_status: instance.status, driver: this.deps.driver.kind, rule: 'driver_instance_must_exist' },
          },
        );
      }
      throw error;
    }
    const { exit_code, timed_out, duration_ms } = end;
    await executeCommand(
      this.deps.store,
      stream,
      instanceDecider,
      {
        type: 'RecordCommandExecution',
        instance_id: input.id,
        argv: input.argv,
        outcome: { exit_code, timed_out, truncated: truncated(), duration_ms },
        requested_by: actor.name,
        now: this.clock().toISOString(),
      },
      { actor: actor.name, correlation_id },
    );
    this.deps.logger.info(
      { instance_id: input.id, program: input.argv[0], exit_code, timed_out, duration_ms, requested_by: actor.name, correlation_id },
      'command executed on instance',
    );
    return { exit_code, timed_out, duration_ms };
  }
}
