import { TextDecoder } from 'node:util';
import {
  EXEC_MARGIN_MS,
  INSTANCE_EXEC_STREAM_MEDIA_TYPE,
  PROVISIONER_RPC,
  PowernodeError,
  type ExecInstanceInput,
  type InstanceExecEnd,
  type InstanceExecPart,
  type InstanceExecStream,
  type InstanceExecStreamLine,
} from '@powernode/contracts';
import type { RpcClient, StreamedReplyItem } from '@powernode/events';
import type { OperationContext, OperationStream } from './operation.js';

/** The NDJSON form of `system_exec_instance` (REST with `Accept: application/x-ndjson`). */
export function instanceExecStream(rpc: RpcClient): OperationStream<ExecInstanceInput> {
  return {
    media_type: INSTANCE_EXEC_STREAM_MEDIA_TYPE,
    description:
      'Output as the command writes it, uncut: one JSON object per line, `{"stream":"stdout"|"stderr","data":"…"}` (UTF-8, a character never split between lines), ' +
      'then `{"exit_code":…,"timed_out":…,"duration_ms":…}` once the run is recorded. A failure after the first line ends the stream with `{"error":{"code","message","details"}}` ' +
      '(`stream_interrupted` when output was lost on the way); a refusal (unknown, terminated or stopped instance) is an ordinary problem+json answer.',
    line_schema: {
      oneOf: [
        { type: 'object', required: ['stream', 'data'], properties: { stream: { enum: ['stdout', 'stderr'] }, data: { type: 'string' } } },
        {
          type: 'object',
          required: ['exit_code', 'timed_out', 'duration_ms'],
          properties: { exit_code: { type: 'integer' }, timed_out: { type: 'boolean' }, duration_ms: { type: 'integer' } },
        },
        {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
            },
          },
        },
      ],
    },
    open: (input, context, signal) => openExecOutput(rpc, input, context, signal),
  };
}

/**
 * Asks the provisioner to run the command with its output streamed, and resolves once the command runs
 * (a refusal rejects); the lines then follow its output: each chunk decoded per stream, then the end.
 */
export async function openExecOutput(
  rpc: RpcClient,
  input: ExecInstanceInput,
  context: OperationContext,
  signal: AbortSignal,
): Promise<AsyncIterable<InstanceExecStreamLine>> {
  const parts = rpc.requestStream<InstanceExecEnd>(
    PROVISIONER_RPC.execInstanceStream,
    { actor: context.principal, input },
    { correlation_id: context.correlation_id, timeout_ms: input.timeout_ms + EXEC_MARGIN_MS, signal },
  );
  const first = await parts.next();
  if (first.done || first.value.type !== 'part' || first.value.part !== ('started' satisfies InstanceExecPart)) {
    await parts.return();
    throw first.done && signal.aborted
      ? new PowernodeError('conflict', 'the client went away before the command started', { details: { correlation_id: context.correlation_id } })
      : new PowernodeError(
          'internal',
          'the provisioner streamed output without saying the command started: gateway and provisioner are of different versions',
          {
            details: { correlation_id: context.correlation_id },
          },
        );
  }
  return outputLines(parts, context);
}

async function* outputLines(
  parts: AsyncGenerator<StreamedReplyItem<InstanceExecEnd>, void, undefined>,
  context: OperationContext,
): AsyncGenerator<InstanceExecStreamLine> {
  const decoders: Record<InstanceExecStream, TextDecoder> = { stdout: new TextDecoder('utf-8'), stderr: new TextDecoder('utf-8') };
  try {
    for await (const item of parts) {
      if (item.type === 'part') {
        if (item.part !== 'stdout' && item.part !== 'stderr') {
          throw new PowernodeError(
            'internal',
            `the provisioner streamed a part of unknown kind ${JSON.stringify(item.part)}: gateway and provisioner are of different versions`,
            {
              details: { part: item.part, correlation_id: context.correlation_id },
            },
          );
        }
        // A multi-byte character may straddle two chunks: the decoder holds its first bytes until the rest come.
        const data = decoders[item.part].decode(item.data, { stream: true });
        if (data !== '') yield { stream: item.part, data };
        continue;
      }
      for (const stream of ['stdout', 'stderr'] as const) {
        const rest = decoders[stream].decode();
        if (rest !== '') yield { stream, data: rest };
      }
      const { exit_code, timed_out, duration_ms } = item.data;
      yield { exit_code, timed_out, duration_ms };
    }
  } finally {
    await parts.return();
  }
}
