import { once } from 'node:events';
import type { Request, Response } from 'express';
import { PowernodeError } from '@powernode/contracts';
import type { EventStore } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import type { Authenticator } from '../auth/authenticator.js';
import { requirePermission, type Role } from '../auth/roles.js';
import { correlationIdFrom } from '../http/correlation.js';
import { toProblem } from '../http/problem.js';
import { visibleEvent } from './event-visibility.js';
import type { LogTail } from './log-tail.js';

/** The events one read of the store hands a stream at most before it writes them. */
const BATCH = 500;
/** A comment line this often keeps proxies and the client from taking a quiet stream for a dead one. */
const KEEP_ALIVE_MS = 15_000;
/** What a client that lost the connection waits before it reconnects (the `retry:` field). */
const RETRY_MS = 1_000;

/**
 * Where a stream starts: after the global log position in `Last-Event-ID` (a client resuming), else after
 * `?after=<position>` (a page that has read state up to a position), else at the head (only what comes next).
 */
export function streamStart(lastEventId: string | undefined, after: unknown, head: number): number {
  for (const candidate of [lastEventId, typeof after === 'string' ? after : undefined]) {
    if (candidate === undefined || candidate === '') continue;
    if (!/^\d{1,15}$/.test(candidate)) {
      throw new PowernodeError('validation_failed', `stream position "${candidate.slice(0, 40)}" is not a global log position (a whole number)`, {
        details: { rule: 'stream_position' },
      });
    }
    return Number(candidate);
  }
  return head;
}

/** One event as a server-sent event: its global position as the id, the event (as the role may see it) as JSON. */
export function serverSentEvent(id: number, json: unknown): string {
  return `id: ${id}\nevent: log\ndata: ${JSON.stringify(json)}\n\n`;
}

/**
 * `GET /api/v1/system/events/stream`: the global event log as server-sent events, live. Bearer auth like every
 * route (the web UI reads it with fetch, so the token never goes into a URL); resumable with `Last-Event-ID`.
 * Every role with read access may open it; data an administrator alone may read is withheld from the others.
 */
export function eventStreamHandler(store: EventStore, tail: LogTail, authenticator: Authenticator, logger: Logger) {
  return async (req: Request, res: Response): Promise<void> => {
    const correlation_id = correlationIdFrom(req.headers['x-correlation-id']);
    let position: number;
    let role: Role;
    try {
      const principal = await authenticator.authenticate(req.headers.authorization);
      requirePermission(principal, 'read');
      role = principal.role;
      position = streamStart(req.header('last-event-id'), req.query['after'], await store.headPosition());
    } catch (error) {
      const problem = toProblem(error, req.originalUrl, correlation_id);
      if (problem.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
      res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
      return;
    }
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Accel-Buffering', 'no');
    res.setHeader('X-Correlation-Id', correlation_id);
    res.flushHeaders();
    res.write(`retry: ${RETRY_MS}\n: position ${position}\n\n`);
    try {
      while (!gone.signal.aborted && !tail.closed) {
        const events = await store.readAll({ after_position: position, limit: BATCH });
        if (events.length > 0) {
          const text = events.map((event) => serverSentEvent(event.position, visibleEvent(event, role))).join('');
          position = events[events.length - 1]!.position;
          if (!res.write(text)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
          continue;
        }
        await tail.grownPast(position, KEEP_ALIVE_MS, gone.signal);
        if (!gone.signal.aborted && !tail.closed && tail.position <= position) res.write(': keep-alive\n\n');
      }
    } catch (error) {
      if (!gone.signal.aborted) logger.error({ err: error, correlation_id }, 'event stream failed');
    } finally {
      res.end();
    }
  };
}
