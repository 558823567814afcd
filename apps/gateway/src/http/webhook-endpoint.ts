import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { CATALOG_RPCS, PowernodeError, WEBHOOK_REFUSAL_MESSAGE } from '@powernode/contracts';
import type { RpcClient } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import { correlationIdFrom } from './correlation.js';
import { toProblem } from './problem.js';
import type { RateLimiter } from './rate-limiter.js';

/** The largest webhook body the gateway accepts, when NATS can carry it (Gitea and GitHub send far less). */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

/**
 * Room in the catalog RPC for all but the base64 body: the other fields (bounded by webhookReceiveRequest,
 * JSON-escaped at worst six bytes a character), the packet and the NATS headers.
 */
const RPC_ENVELOPE_ROOM = 64 * 1024;

/**
 * The largest body the gateway accepts from a NATS server with this `max_payload`: the body travels base64
 * (4 bytes per 3) in one RPC message, so against NATS's default of 1 MiB it is about 720 KiB; the platform's
 * own servers take 4 MiB, which leaves WEBHOOK_BODY_LIMIT.
 */
export function webhookBodyLimit(maxPayload: number | undefined): number {
  if (maxPayload === undefined) return WEBHOOK_BODY_LIMIT;
  return Math.max(0, Math.min(WEBHOOK_BODY_LIMIT, Math.floor((maxPayload - RPC_ENVELOPE_ROOM) / 4) * 3));
}

/**
 * Reads the raw body, at most `limit` bytes. A larger one is answered 413 `payload_too_large` naming the
 * limit, read off first so the sender sees the answer instead of a reset connection.
 */
export function webhookBody(limit: number): RequestHandler {
  const parse = express.raw({ type: () => true, limit });
  return (req: Request, res: Response, next: NextFunction) =>
    parse(req, res, (error?: unknown) => {
      if ((error as { type?: string } | undefined)?.type !== 'entity.too.large') return next(error);
      const tooLarge = new PowernodeError(
        'payload_too_large',
        `webhook body is larger than ${limit} bytes: send a smaller payload (the artifact is pulled from the registry, not sent here)`,
        {
          details: { field: 'body', limit_bytes: limit },
        },
      );
      const problem = toProblem(tooLarge, req.originalUrl, correlationIdFrom(req.headers['x-correlation-id']));
      res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
    });
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The tag a Gitea/GitHub push (`ref: refs/tags/<tag>`) or release (`release.tag_name`) payload names. */
export function tagFromPayload(payload: Record<string, unknown>): string | null {
  const ref = payload['ref'];
  if (typeof ref === 'string' && ref.startsWith('refs/tags/') && ref.length > 'refs/tags/'.length) return ref.slice('refs/tags/'.length);
  const release = payload['release'];
  if (release && typeof release === 'object' && typeof (release as Record<string, unknown>)['tag_name'] === 'string')
    return (release as Record<string, string>)['tag_name']!;
  return null;
}

/**
 * `POST /api/v1/system/webhooks/gitea/module`: the CI callback. No bearer token: the body's HMAC is the
 * credential, checked by the catalog (which holds the encrypted secret). Unknown repository and bad
 * signature get the same 401; a repeated delivery id gets 200 and has no second effect.
 */
export function webhookHandler(rpc: RpcClient, limiter: RateLimiter, logger: Logger): (req: Request, res: Response) => Promise<void> {
  return async (req, res) => {
    const correlation_id = correlationIdFrom(req.headers['x-correlation-id']);
    res.setHeader('X-Correlation-Id', correlation_id);
    const fail = (error: unknown) => {
      const problem = toProblem(error, req.originalUrl, correlation_id);
      if (problem.status >= 500) logger.error({ err: error, correlation_id }, 'webhook failed');
      res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
    };
    try {
      if (!limiter.take(req.ip ?? 'unknown')) throw new PowernodeError('rate_limited', 'too many webhook deliveries from this source: retry later');
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const giteaSig = header(req, 'x-gitea-signature');
      const hubSig = header(req, 'x-hub-signature-256');
      const signature = giteaSig ?? (hubSig?.startsWith('sha256=') ? hubSig.slice(7) : undefined);
      let payload: Record<string, unknown> | undefined;
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) payload = parsed as Record<string, unknown>;
      } catch {
        payload = undefined;
      }
      const repository = payload?.['repository'];
      const fullName = repository && typeof repository === 'object' ? (repository as Record<string, unknown>)['full_name'] : undefined;
      // Without a signature or a repository name there is nothing to check a signature against: same 401.
      if (!signature || typeof fullName !== 'string' || !payload) throw new PowernodeError('unauthenticated', WEBHOOK_REFUSAL_MESSAGE);
      const delivery_id = header(req, 'x-gitea-delivery') ?? header(req, 'x-github-delivery');
      if (!delivery_id) throw new PowernodeError('validation_failed', 'missing delivery id: send X-Gitea-Delivery or X-GitHub-Delivery');
      const artifact = payload['artifact'];
      const result = await rpc.call<typeof CATALOG_RPCS.receiveWebhook, { delivery_id: string; duplicate: boolean }>(
        CATALOG_RPCS.receiveWebhook,
        {
          repository_full_name: fullName,
          raw_body_base64: raw.toString('base64'),
          signature,
          delivery_id,
          tag: tagFromPayload(payload),
          artifact_ref: typeof artifact === 'string' ? artifact : null,
        },
        { correlation_id, timeout_ms: 10_000 },
      );
      res.status(result.duplicate ? 200 : 202).json({ delivery_id: result.delivery_id, duplicate: result.duplicate });
    } catch (error) {
      fail(error);
    }
  };
}
