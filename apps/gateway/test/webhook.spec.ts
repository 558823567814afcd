import { createHash, createHmac, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { EventStore } from '@powernode/events';
import type { TestPlatform } from '@powernode/testing';
import { startWebhookPlatform, type WebhookPlatform } from './webhook-platform.test-support.js';

let platform: TestPlatform;
let store: EventStore;
let secret: string;
const repo = 'acme/modules/hooked';

function sign(body: string, key = secret): string {
  return createHmac('sha256', key).update(body).digest('hex');
}

async function deliver(body: string, headers: Record<string, string>, forge: 'gitea' | 'github' = 'gitea'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${platform.url}/api/v1/system/webhooks/${forge}/module`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function buildReports(): Promise<{ delivery_id: string; tag: string; artifact_ref: string }[]> {
  const all = await store.readAll({ after_position: 0, limit: 100_000 });
  return all.filter((e) => e.type === 'ModuleBuildReported').map((e) => e.data as { delivery_id: string; tag: string; artifact_ref: string });
}

const payload = (tag = 'v0.1.0') => JSON.stringify({ repository: { full_name: repo }, ref: `refs/tags/${tag}`, artifact: `127.0.0.1:5000/${repo}:${tag}` });

let bed: WebhookPlatform | undefined;

beforeAll(async () => {
  bed = await startWebhookPlatform('hooked', repo);
  ({ platform, store, secret } = bed);
}, 120_000);

afterAll(async () => {
  await bed?.stop();
});

describe('CI webhook', () => {
  it('accepts a signed delivery with 202 and records one ModuleBuildReported; a replayed delivery gets 200 and no second event', async () => {
    const body = payload();
    const delivery = randomUUID();
    const first = await deliver(body, { 'x-gitea-signature': sign(body), 'x-gitea-delivery': delivery });
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ delivery_id: delivery, duplicate: false });
    const again = await deliver(body, { 'x-gitea-signature': sign(body), 'x-gitea-delivery': delivery });
    expect(again.status).toBe(200);
    expect(again.body.duplicate).toBe(true);
    const reports = (await buildReports()).filter((r) => r.delivery_id === delivery);
    expect(reports).toEqual([
      {
        module_id: expect.any(String),
        module_name: 'hooked',
        tag: 'v0.1.0',
        artifact_ref: `127.0.0.1:5000/${repo}:v0.1.0`,
        delivery_id: delivery,
        repository_full_name: repo,
        body_sha256: createHash('sha256').update(body).digest('hex'),
        reported_at: expect.any(String),
      },
    ]);
  });

  it('answers a replay of a signed body under a new delivery id with 200 and records nothing more', async () => {
    const body = payload('v0.3.0');
    const first = await deliver(body, { 'x-gitea-signature': sign(body), 'x-gitea-delivery': randomUUID() });
    expect(first.status).toBe(202);
    const replayedId = randomUUID();
    const replay = await deliver(body, { 'x-gitea-signature': sign(body), 'x-gitea-delivery': replayedId });
    expect(replay).toMatchObject({ status: 200, body: { delivery_id: replayedId, duplicate: true } });
    expect((await buildReports()).filter((r) => r.tag === 'v0.3.0')).toHaveLength(1);
  });

  it('accepts the GitHub signature header form', async () => {
    const body = payload('v0.2.0');
    const res = await deliver(body, { 'x-hub-signature-256': `sha256=${sign(body)}`, 'x-github-delivery': randomUUID() });
    expect(res.status).toBe(202);
  });

  it('answers a forged signature and an unknown repository with the same 401 and records nothing', async () => {
    const before = (await buildReports()).length;
    const body = payload('v9.9.9');
    const forged = await deliver(body, { 'x-gitea-signature': sign(body, 'not-the-secret'), 'x-gitea-delivery': randomUUID() });
    const unknownBody = JSON.stringify({ repository: { full_name: 'nobody/nothing' }, ref: 'refs/tags/v1.0.0' });
    const unknown = await deliver(unknownBody, { 'x-gitea-signature': sign(unknownBody), 'x-gitea-delivery': randomUUID() });
    const unsigned = await deliver(body, { 'x-gitea-delivery': randomUUID() });
    for (const r of [forged, unknown, unsigned]) expect(r.status).toBe(401);
    const strip = ({ correlation_id: _c, ...rest }: Record<string, unknown>) => rest;
    expect(strip(forged.body)).toEqual(strip(unknown.body));
    expect(strip(unsigned.body)).toEqual(strip(unknown.body));
    expect((await buildReports()).length).toBe(before);
  });

  it('refuses a body over 1 MiB with 413 and a signed payload without a tag with 400', async () => {
    const big = JSON.stringify({ repository: { full_name: repo }, ref: 'refs/tags/v1.0.0', padding: 'x'.repeat(1024 * 1024) });
    const tooLarge = await deliver(big, { 'x-gitea-signature': sign(big), 'x-gitea-delivery': randomUUID() });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.code).toBe('payload_too_large');
    const noTag = JSON.stringify({ repository: { full_name: repo }, ref: 'refs/heads/main' });
    const malformed = await deliver(noTag, { 'x-gitea-signature': sign(noTag), 'x-gitea-delivery': randomUUID() });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('validation_failed');
    const noDelivery = await deliver(payload(), { 'x-gitea-signature': sign(payload()) });
    expect(noDelivery.status).toBe(400);
    expect(noDelivery.body.detail).toContain('X-Gitea-Delivery');
  });

  it('names the field and the rule of a signed payload it refuses, and judges the payload only after the signature', async () => {
    const longTag = `v${'1'.repeat(300)}`;
    const body = payload(longTag);
    const refused = await deliver(body, { 'x-gitea-signature': sign(body), 'x-gitea-delivery': randomUUID() });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'validation_failed', field: 'ref', rule: 'tag_length' });
    const forged = await deliver(body, { 'x-gitea-signature': sign(body, 'not-the-secret'), 'x-gitea-delivery': randomUUID() });
    expect(forged.status).toBe(401);
    const noTag = JSON.stringify({ repository: { full_name: repo }, ref: 'refs/heads/main' });
    const untagged = await deliver(noTag, { 'x-gitea-signature': sign(noTag), 'x-gitea-delivery': randomUUID() });
    expect(untagged.body).toMatchObject({ code: 'validation_failed', field: 'ref', rule: 'tag_required' });
  });

  it('never answers 2xx nor records anything for a request without a valid signature (property)', async () => {
    const before = (await buildReports()).length;
    const unsignedBody = fc.oneof(
      fc.constantFrom(repo, repo.toUpperCase(), 'nobody/nothing').map((name) => JSON.stringify({ repository: { full_name: name }, ref: 'refs/tags/v7.7.7' })),
      fc.string({ maxLength: 120 }),
    );
    const signatureOf = (body: string) =>
      fc.oneof(
        fc.constant<Record<string, string>>({}),
        fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => ({ 'x-hub-signature-256': `sha256=${hex}` })),
        fc.constant({ 'x-hub-signature-256': `sha256=${sign(body, 'not-the-secret')}` }),
        fc.constant({ 'x-hub-signature-256': `sha256=${sign(`${body} `)}` }),
        fc.constant({ 'x-hub-signature-256': sign(body) }),
        fc.string({ maxLength: 70 }).map((junk) => ({ 'x-gitea-signature': junk })),
      );
    // The GitHub route has a rate-limit bucket of its own, so the runs stay within its burst.
    await fc.assert(
      fc.asyncProperty(
        unsignedBody.chain((body) => fc.tuple(fc.constant(body), signatureOf(body))),
        fc.uuid(),
        async ([body, signature], delivery) => {
          const answer = await deliver(body, { ...signature, 'x-github-delivery': delivery }, 'github');
          expect(answer.status).toBeGreaterThanOrEqual(400);
        },
      ),
      { numRuns: 40 },
    );
    expect((await buildReports()).length).toBe(before);
  });

  it('rate-limits a source that floods the endpoint', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 80; i++) statuses.push((await deliver('{}', { 'x-gitea-delivery': randomUUID() })).status);
    expect(statuses).toContain(429);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThan(0);
  });
});
