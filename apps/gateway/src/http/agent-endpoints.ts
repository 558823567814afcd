import express, { Router, type Request, type Response } from 'express';
import { agentEnrolInput, agentHeartbeat, parseOrThrow, PowernodeError, PROVISIONER_RPCS } from '@powernode/contracts';
import type { RpcClient } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import { correlationIdFrom } from './correlation.js';
import { toProblem } from './problem.js';

/** Where instance agents talk to the platform (libs/contracts/src/api/agent-api.ts). */
export const AGENT_API_PREFIX = '/api/v1/agent';

/** Heartbeats carry at most 100 errors of 2000 characters and a module map: far below this. */
const AGENT_BODY_LIMIT = '512kb';

/** The agent credential of `Authorization: Bearer <credential>`; operator tokens are not accepted here (the provisioner only knows credentials). */
function bearerCredential(req: Request): string {
  const match = /^Bearer\s+(\S{1,500})\s*$/i.exec(req.headers.authorization ?? '');
  if (!match) throw new PowernodeError('unauthenticated', 'missing agent credential: send Authorization: Bearer <credential from /api/v1/agent/enrol>');
  return match[1]!;
}

/**
 * The agent endpoints, forwarded to the provisioner over NATS:
 *   POST /enrol      {instance_id, enrolment_token} → {credential, heartbeat_interval_ms}   (no bearer: the token is the secret)
 *   GET  /desired    Bearer <credential> → the instance's desired state
 *   POST /heartbeat  Bearer <credential>, heartbeat → {ok:true, desired_generation}
 * The gateway checks shapes only; the provisioner authenticates the token or credential. Errors are
 * problem+json; 401 carries `WWW-Authenticate: Bearer`.
 */
export function agentRouter(rpc: RpcClient, logger: Logger): Router {
  const router = Router();
  router.use(express.json({ limit: AGENT_BODY_LIMIT, type: ['application/json', 'application/*+json'] }));
  const route =
    (handle: (req: Request, correlation_id: string) => Promise<unknown>) =>
    async (req: Request, res: Response): Promise<void> => {
      const correlation_id = correlationIdFrom(req.headers['x-correlation-id']);
      res.setHeader('X-Correlation-Id', correlation_id);
      try {
        res.status(200).json(await handle(req, correlation_id));
      } catch (error) {
        const problem = toProblem(error, req.originalUrl, correlation_id);
        if (problem.status >= 500) logger.error({ err: error, correlation_id, path: req.path }, 'agent request failed');
        if (problem.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
        res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
      }
    };
  const body = (req: Request): unknown => (req.body && typeof req.body === 'object' ? req.body : {});

  router.post(
    '/enrol',
    route((req, correlation_id) =>
      rpc.call(PROVISIONER_RPCS.agentEnrol, parseOrThrow(agentEnrolInput, body(req), 'enrolment'), { correlation_id, timeout_ms: 10_000 }),
    ),
  );
  router.get(
    '/desired',
    route((req, correlation_id) => rpc.call(PROVISIONER_RPCS.agentDesired, { credential: bearerCredential(req) }, { correlation_id, timeout_ms: 10_000 })),
  );
  router.post(
    '/heartbeat',
    route((req, correlation_id) => {
      const credential = bearerCredential(req);
      const heartbeat = parseOrThrow(agentHeartbeat, body(req), 'heartbeat');
      return rpc.call(PROVISIONER_RPCS.agentHeartbeat, { credential, heartbeat }, { correlation_id, timeout_ms: 10_000 });
    }),
  );
  router.use((req: Request, res: Response) => {
    const problem = toProblem(
      new PowernodeError(
        'not_found',
        `no agent route ${req.method} ${req.originalUrl}: the agent API is POST /enrol, GET /desired, POST /heartbeat under ${AGENT_API_PREFIX}`,
      ),
      req.originalUrl,
    );
    res.status(404).type('application/problem+json').send(JSON.stringify(problem));
  });
  return router;
}
