import type { InstanceExecEnd, InstanceExecResult, InstanceExecStream } from '@powernode/contracts';

/*
 * For callers that do not stream (the MCP tool, JSON clients), a command's output goes back to the gateway in
 * one NATS reply, and NATS refuses messages over its max_payload (1 MiB unless the server is configured
 * otherwise). The collector keeps at most 1 MiB of each stream; what the two streams add up to, as JSON, is
 * cut further here to fit one message. A streamed exec keeps nothing and cuts nothing.
 */

/** Keeps the first `limit` bytes of each stream a command writes; the rest is dropped (and the pipe still drained). */
export class ExecOutputCollector {
  private readonly kept: Record<InstanceExecStream, { chunks: Buffer[]; size: number }> = { stdout: { chunks: [], size: 0 }, stderr: { chunks: [], size: 0 } };
  truncated = false;

  constructor(private readonly limit: number) {}

  /** An `onOutput` for the driver. */
  readonly add = (stream: InstanceExecStream, chunk: Buffer): void => {
    const kept = this.kept[stream];
    const room = this.limit - kept.size;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    kept.chunks.push(part);
    kept.size += part.length;
  };

  /** The buffered result of a command that ended with `end`, output decoded as UTF-8. */
  result(end: InstanceExecEnd): InstanceExecResult {
    return {
      exit_code: end.exit_code,
      stdout: Buffer.concat(this.kept.stdout.chunks).toString('utf8'),
      stderr: Buffer.concat(this.kept.stderr.chunks).toString('utf8'),
      truncated: this.truncated,
      timed_out: end.timed_out,
      duration_ms: end.duration_ms,
    };
  }
}

/** JSON bytes left for stdout and stderr together in one reply (1 MiB minus room for the envelope). */
export const EXEC_REPLY_OUTPUT_BUDGET = 1024 * 1024 - 64 * 1024;

const jsonBytes = (text: string): number => Buffer.byteLength(JSON.stringify(text));

/**
 * The result with stdout and stderr cut so that both, JSON-encoded, fit `budgetBytes` (marked truncated when
 * anything was cut). A stream that needs less than half the budget leaves the rest to the other.
 */
export function fitExecReply(result: InstanceExecResult, budgetBytes = EXEC_REPLY_OUTPUT_BUDGET): InstanceExecResult {
  const outBytes = jsonBytes(result.stdout);
  const errBytes = jsonBytes(result.stderr);
  if (outBytes + errBytes <= budgetBytes) return result;
  const half = Math.floor(budgetBytes / 2);
  const errBudget = errBytes <= half ? errBytes : outBytes <= half ? budgetBytes - outBytes : budgetBytes - half;
  return { ...result, stdout: prefixWithin(result.stdout, budgetBytes - errBudget), stderr: prefixWithin(result.stderr, errBudget), truncated: true };
}

/** The longest prefix of `text` whose JSON encoding takes at most `budget` bytes (never splitting a surrogate pair). */
function prefixWithin(text: string, budget: number): string {
  if (jsonBytes(text) <= budget) return text;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (jsonBytes(text.slice(0, middle)) <= budget) low = middle;
    else high = middle - 1;
  }
  const last = text.charCodeAt(low - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? low - 1 : low);
}
