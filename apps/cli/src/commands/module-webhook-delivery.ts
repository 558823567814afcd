import { createHmac, randomUUID } from 'node:crypto';
import { PowernodeError } from '@powernode/contracts';

// The CI callback of CONTRACT §3: POST {repository:{full_name}, ref:"refs/tags/<tag>", artifact} signed with
// the module's webhook secret (HMAC-SHA256 over the exact body bytes, hex, in X-Gitea-Signature). Every
// attempt carries the same X-Gitea-Delivery id, so a retry after a lost answer has no second effect. The id
// is also a field of the signed body: the platform recognises a replay by the body (the header is not signed),
// so each publish, even of a tag reported before, sends a body of its own.

/** The webhook payload, in the order the fields are serialised. */
export interface ModuleWebhookPayload {
  repository: { full_name: string };
  ref: string;
  artifact: string;
}

/** What the gateway answered to an accepted delivery. */
export interface WebhookDelivery {
  delivery_id: string;
  status: number;
  /** The gateway's own id for the delivery when it returned one. */
  response: unknown;
  attempts: number;
}

/** The payload for a pushed artifact: the tag of the reference becomes `refs/tags/<tag>`. */
export function moduleWebhookPayload(repoFullName: string, tag: string, artifact: string): ModuleWebhookPayload {
  return { repository: { full_name: repoFullName }, ref: `refs/tags/${tag}`, artifact };
}

/** Hex HMAC-SHA256 of the raw body with the webhook secret (the X-Gitea-Signature value). */
export function webhookSignature(secret: string, body: Uint8Array): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** Options of a delivery. */
export interface DeliverWebhookOptions {
  /** Attempts in all, including the first (default 5). */
  attempts?: number;
  /** Delay before the second attempt, doubled after each failure (default 1 s, at most 30 s). */
  retryDelayMs?: number;
  timeoutMs?: number;
  deliveryId?: string;
  /** Told about each failed attempt that will be retried. */
  onRetry?: (attempt: number, reason: string, delayMs: number) => void;
  fetch?: typeof fetch;
}

/** The reason a 4xx answer gives: problem+json `detail` (and `code`), else the start of the body. */
export function refusalReason(status: number, contentType: string | null, text: string): string {
  if (contentType?.includes('json') === true) {
    try {
      const body = JSON.parse(text) as { detail?: unknown; title?: unknown; code?: unknown; message?: unknown; error?: unknown };
      const detail = [body.detail, body.message, body.title, body.error].find((v) => typeof v === 'string' && v !== '');
      if (typeof detail === 'string') return typeof body.code === 'string' ? `${body.code}: ${detail}` : detail;
    } catch {
      // not JSON after all: fall through to the raw text
    }
  }
  const trimmed = text.trim().slice(0, 500);
  return trimmed === '' ? `HTTP ${status}` : trimmed;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * POSTs the payload, retrying connection errors, timeouts, 408, 429 and 5xx with exponential back-off. A 2xx
 * is success; any other 4xx is a refusal (`unauthenticated` for 401/403, `validation_failed` otherwise)
 * carrying the gateway's problem detail.
 */
export async function deliverWebhook(
  url: string,
  secret: string,
  payload: ModuleWebhookPayload,
  options: DeliverWebhookOptions = {},
): Promise<WebhookDelivery> {
  const attempts = Math.max(1, options.attempts ?? 5);
  const doFetch = options.fetch ?? fetch;
  const deliveryId = options.deliveryId ?? randomUUID();
  const body = Buffer.from(JSON.stringify({ ...payload, delivery: deliveryId }), 'utf8');
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'powernode-cli/0.1',
    'x-gitea-signature': webhookSignature(secret, body),
    'x-gitea-delivery': deliveryId,
    'x-gitea-event': 'push',
  };
  let delay = options.retryDelayMs ?? 1000;
  let lastReason = 'no attempt made';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const response = await doFetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
      const text = await response.text();
      if (response.status >= 200 && response.status < 300) {
        let parsed: unknown = null;
        try {
          parsed = text === '' ? null : (JSON.parse(text) as unknown);
        } catch {
          parsed = text;
        }
        return { delivery_id: deliveryId, status: response.status, response: parsed, attempts: attempt };
      }
      const reason = refusalReason(response.status, response.headers.get('content-type'), text);
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      if (!retryable) {
        throw new PowernodeError(
          response.status === 401 || response.status === 403 ? 'unauthenticated' : 'validation_failed',
          `the webhook at ${url} refused the delivery (HTTP ${response.status}): ${reason}${
            response.status === 401
              ? '; check that the webhook secret is the one shown when the module was registered and that --repo-full-name matches the module'
              : ''
          }`,
          { details: { status: response.status, delivery_id: deliveryId } },
        );
      }
      lastReason = `HTTP ${response.status}: ${reason}`;
    } catch (error) {
      if (error instanceof PowernodeError) throw error;
      const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
      lastReason = cause?.code ?? cause?.message ?? (error as Error).message;
    }
    if (attempt < attempts) {
      options.onRetry?.(attempt, lastReason, delay);
      await sleep(delay);
      delay = Math.min(delay * 2, 30_000);
    }
  }
  throw new PowernodeError(
    'webhook_unreachable',
    `the webhook at ${url} did not accept the delivery after ${attempts} attempts (last: ${lastReason}); the artifact is pushed and signed, re-run the publish step to notify again`,
    {
      retryable: true,
      details: { delivery_id: deliveryId, attempts },
    },
  );
}
