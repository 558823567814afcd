import { once } from 'node:events';
import type { Request, Response } from 'express';
import { isPowernodeError, PowernodeError } from '@powernode/contracts';
import type { Logger } from '@powernode/runtime';
import type { OperationStream } from '../operations/operation.js';

/** Whether the client asked for `stream`'s media type rather than JSON (a bare `*\/*` keeps JSON). */
export function wantsStream(req: Request, stream: OperationStream<unknown> | undefined): stream is OperationStream<unknown> {
  return stream !== undefined && req.accepts(['application/json', stream.media_type]) === stream.media_type;
}

/**
 * Opens `stream` and sends its lines as newline-delimited JSON, each written (and flushed: there is no
 * buffering layer in between) as it comes. Nothing is sent before the stream has opened, so a refusal still
 * gets its own status from the caller's error handling (it is rethrown); a failure after that ends the body
 * with an `{"error":…}` line. When the client goes away, the stream's signal aborts so the work can stop.
 */
export async function sendLineStream(
  res: Response,
  stream: OperationStream<unknown>,
  open: (signal: AbortSignal) => Promise<AsyncIterable<object>>,
  log: { logger: Logger; correlation_id: string; tool: string },
): Promise<void> {
  const abort = new AbortController();
  const gone = (): void => abort.abort();
  res.once('close', gone);
  try {
    const iterator = (await open(abort.signal))[Symbol.asyncIterator]();
    res.status(200);
    res.setHeader('Content-Type', `${stream.media_type}; charset=utf-8`);
    res.setHeader('Cache-Control', 'no-store');
    // Proxies that buffer responses (nginx) would hold the lines back until the end.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    try {
      for (let item = await iterator.next(); !item.done; item = await iterator.next()) {
        if (res.destroyed) break;
        if (!res.write(`${JSON.stringify(item.value)}\n`)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
      }
    } catch (error) {
      const e = isPowernodeError(error)
        ? error
        : new PowernodeError('internal', `internal error: the failure was logged with correlation id ${log.correlation_id}`, { cause: error });
      if (e.code === 'internal') log.logger.error({ err: error, correlation_id: log.correlation_id, tool: log.tool }, 'streamed operation failed');
      if (!res.destroyed) res.write(`${JSON.stringify({ error: e.toBody() })}\n`);
    } finally {
      await iterator.return?.();
      res.end();
    }
  } finally {
    res.off('close', gone);
  }
}
