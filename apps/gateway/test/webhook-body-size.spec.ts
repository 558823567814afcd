import { createHmac, randomUUID } from 'node:crypto';
import { PLATFORM_NATS_MAX_PAYLOAD, type EventStore } from '@powernode/events';
import type { TestPlatform } from '@powernode/testing';
import { WEBHOOK_BODY_LIMIT, webhookBodyLimit } from '../src/http/webhook-endpoint.js';
import { startWebhookPlatform, type WebhookPlatform } from './webhook-platform.test-support.js';

/*
 * The webhook body travels base64 in one NATS message from the gateway to the catalog: a body the gateway
 * accepts must fit, and one it does not accept is refused with a code that says so (not bus_unavailable).
 */

let platform: TestPlatform;
let store: EventStore;
let secret: string;
const repo = 'acme/modules/sized';

const sign = (body: string): string => createHmac('sha256', secret).update(body).digest('hex');

/** A push payload for `tag`, padded to exactly `bytes` bytes. */
function payloadOfSize(tag: string, bytes: number): string {
  const base = JSON.stringify({ repository: { full_name: repo }, ref: `refs/tags/${tag}`, artifact: `127.0.0.1:5000/${repo}:${tag}`, padding: '' });
  const body = base.replace('"padding":""', `"padding":"${'x'.repeat(bytes - base.length)}"`);
  expect(Buffer.byteLength(body)).toBe(bytes);
  return body;
}

async function deliver(body: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${platform.url}/api/v1/system/webhooks/gitea/module`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gitea-signature': sign(body), 'x-gitea-delivery': randomUUID() },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

let bed: WebhookPlatform | undefined;

beforeAll(async () => {
  bed = await startWebhookPlatform('sized', repo);
  ({ platform, store, secret } = bed);
}, 120_000);

afterAll(async () => {
  await bed?.stop();
});

describe('webhook body size', () => {
  it('a signed body of exactly 1 MiB is accepted and recorded as a build report', async () => {
    const answer = await deliver(payloadOfSize('v1.0.0', WEBHOOK_BODY_LIMIT));
    expect(answer).toMatchObject({ status: 202, body: { duplicate: false } });
    const reports = (await store.readAll({ after_position: 0, limit: 100_000 }))
      .filter((e) => e.type === 'ModuleBuildReported')
      .map((e) => e.data as { tag: string });
    expect(reports.filter((r) => r.tag === 'v1.0.0')).toHaveLength(1);
  });

  it('one byte more is refused with 413 payload_too_large naming the limit, and nothing is recorded', async () => {
    const answer = await deliver(payloadOfSize('v2.0.0', WEBHOOK_BODY_LIMIT + 1));
    expect(answer).toMatchObject({ status: 413, body: { code: 'payload_too_large', limit_bytes: WEBHOOK_BODY_LIMIT, field: 'body' } });
    const reports = (await store.readAll({ after_position: 0, limit: 100_000 }))
      .filter((e) => e.type === 'ModuleBuildReported')
      .map((e) => e.data as { tag: string });
    expect(reports.filter((r) => r.tag === 'v2.0.0')).toEqual([]);
  });
});

describe('the body limit a NATS server allows', () => {
  it('is 1 MiB on the servers the platform starts, and what fits base64 in one message on a default server', () => {
    expect(webhookBodyLimit(PLATFORM_NATS_MAX_PAYLOAD)).toBe(WEBHOOK_BODY_LIMIT);
    const onDefault = webhookBodyLimit(1024 * 1024);
    expect(onDefault).toBeLessThan(WEBHOOK_BODY_LIMIT);
    expect(Math.ceil(onDefault / 3) * 4).toBeLessThan(1024 * 1024 - 60 * 1024);
    expect(webhookBodyLimit(undefined)).toBe(WEBHOOK_BODY_LIMIT);
  });
});
