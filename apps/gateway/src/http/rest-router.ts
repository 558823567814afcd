import { Router, type Request, type Response } from 'express';
import type { Logger } from '@powernode/runtime';
import { parseOrThrow } from '@powernode/contracts';
import type { Authenticator } from '../auth/authenticator.js';
import { requirePermission } from '../auth/roles.js';
import type { Operation } from '../operations/operation.js';
import { correlationIdFrom } from './correlation.js';
import { sendLineStream, wantsStream } from './line-stream.js';
import { toProblem } from './problem.js';

/** Express path (`/modules/:module_name`) from an operation's path (`/modules/{module_name}`). */
export function expressPath(path: string): string {
  return path.replace(/\{([a-z_]+)\}/g, ':$1');
}

/** Path parameters under the input field names they fill, so the path wins over a query or body field. */
function inputFromPath(params: Record<string, unknown>, names: Readonly<Record<string, string>> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).map(([param, value]) => [names?.[param] ?? param, value]));
}

/**
 * Serves every operation as a REST route: bearer auth, permission check, input merged from path, query and
 * body and validated by the operation's schema, JSON result (or, for an operation with a streamed form and a
 * client that accepts it, its lines as they come), problem+json errors.
 */
export function restRouter(operations: Operation[], authenticator: Authenticator, logger: Logger): Router {
  const router = Router();
  for (const op of operations) {
    const method = op.rest.method.toLowerCase() as 'get' | 'post' | 'patch' | 'put' | 'delete';
    router[method](expressPath(op.rest.path), async (req: Request, res: Response) => {
      const correlation_id = correlationIdFrom(req.headers['x-correlation-id']);
      res.setHeader('X-Correlation-Id', correlation_id);
      try {
        const principal = await authenticator.authenticate(req.headers.authorization);
        requirePermission(principal, op.permission);
        const body = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
        const input = parseOrThrow(
          op.input,
          { ...(req.query as Record<string, unknown>), ...body, ...inputFromPath(req.params, op.rest.params) },
          `${op.tool} input`,
        );
        const stream = op.stream;
        if (wantsStream(req, stream)) {
          await sendLineStream(res, stream, (signal) => stream.open(input, { principal, correlation_id }, signal), { logger, correlation_id, tool: op.tool });
          return;
        }
        const result = await op.run(input, { principal, correlation_id });
        res.status(op.rest.status ?? 200).json(result);
      } catch (error) {
        const problem = toProblem(error, req.originalUrl, correlation_id);
        if (problem.status >= 500) logger.error({ err: error, correlation_id, tool: op.tool }, 'operation failed');
        if (problem.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
        res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
      }
    });
  }
  return router;
}
