import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got. */
export interface ReceivedDelivery {
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  signatureValid: boolean;
  status: number;
}

/** How the receiver answers a request on a path. */
export type ReceiverBehaviour =
  /** 202 with a delivery id when the HMAC is right, else 401 problem+json (the gateway's contract). */
  | { type: 'verify' }
  /** 503 for the first `failures` requests, then as `verify`. */
  | { type: 'flaky'; failures: number }
  /** 400 problem+json after a valid signature (a signed but malformed payload). */
  | { type: 'malformed' };

/** A webhook endpoint on loopback that checks X-Gitea-Signature like the gateway and records every request. */
export interface WebhookReceiver {
  url: string;
  secret: string;
  deliveries: ReceivedDelivery[];
  close(): Promise<void>;
}

function signatureMatches(secret: string, body: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string' || !/^[0-9a-f]{64}$/.test(header)) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(header, 'hex'));
}

/** Starts the receiver; `behaviours` maps a path (`/ok`) to how it answers; unknown paths answer 404. */
export async function startWebhookReceiver(secret: string, behaviours: Record<string, ReceiverBehaviour>): Promise<WebhookReceiver> {
  const deliveries: ReceivedDelivery[] = [];
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = req.url ?? '/';
      const behaviour = behaviours[path];
      const signatureValid = signatureMatches(secret, body, req.headers['x-gitea-signature']);
      const count = (seen.get(path) ?? 0) + 1;
      seen.set(path, count);
      const answer = (status: number, payload: unknown, contentType = 'application/json'): void => {
        deliveries.push({ path, headers: req.headers, body, signatureValid, status });
        res.writeHead(status, { 'content-type': contentType });
        res.end(JSON.stringify(payload));
      };
      const problem = (status: number, code: string, detail: string): void =>
        answer(status, { type: `https://powernode.dev/problems/${code}`, title: code.replace(/_/g, ' '), status, detail, code }, 'application/problem+json');
      if (behaviour === undefined) return problem(404, 'not_found', `no webhook at ${path}`);
      if (behaviour.type === 'flaky' && count <= behaviour.failures) return problem(503, 'bus_unavailable', 'the message bus is unavailable; retry');
      if (!signatureValid) return problem(401, 'unauthenticated', 'invalid webhook signature or unknown repository');
      if (behaviour.type === 'malformed') return problem(400, 'validation_failed', 'ref must be refs/tags/<tag>');
      return answer(202, { delivery_id: req.headers['x-gitea-delivery'] });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    secret,
    deliveries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
