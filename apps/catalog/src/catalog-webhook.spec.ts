import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { EncryptedSecret } from '@powernode/contracts';
import { MemoryEventStore, powernodeEventCatalogue } from '@powernode/events';
import { createLogger } from '@powernode/runtime';
import { CatalogService, type WebhookDelivery } from './catalog-service.js';
import { WEBHOOK_REPLAY_WINDOW_MS } from './domain/index.js';
import { CatalogReadModels } from './read-models.js';
import { SecretBox } from './secrets/secret-box.js';
import { WebhookAuthenticator, hmacSha256 } from './webhook-authenticator.js';

const T0 = Date.parse('2026-05-01T10:00:00.000Z');
const ADMIN = { name: 'admin', role: 'admin' } as const;

/** A SecretBox that counts what it decrypts, to see the work a refusal does without timing it. */
class CountingSecretBox extends SecretBox {
  readonly decrypted: EncryptedSecret[] = [];
  override decrypt(secret: EncryptedSecret): string {
    this.decrypted.push(secret);
    return super.decrypt(secret);
  }
}

let store: MemoryEventStore;
let readModels: CatalogReadModels;
let secrets: CountingSecretBox;
let service: CatalogService;
let now: number;

beforeEach(async () => {
  store = new MemoryEventStore(powernodeEventCatalogue());
  const logger = createLogger('catalog-test', 'silent');
  readModels = new CatalogReadModels(store, logger);
  await readModels.start();
  secrets = new CountingSecretBox(randomBytes(32));
  now = T0;
  service = new CatalogService(store, readModels, secrets, logger, () => new Date(now));
});
afterEach(() => readModels.stop());

async function register(name: string, repository: string): Promise<string> {
  const created = await service.createModule(
    { name, category: 'userland', variety: 'subscription', gitea_repo_full_name: repository, cosign_identity_regexp: 'x', cosign_issuer_regexp: 'y' } as never,
    ADMIN as never,
    `create-${name}`,
  );
  return created.webhook_secret;
}

const payload = (repository: string, tag = 'v0.1.0') => JSON.stringify({ repository: { full_name: repository }, ref: `refs/tags/${tag}` });

function delivery(repository: string, body: string, key: string, delivery_id: string, tag = 'v0.1.0'): WebhookDelivery {
  return {
    repository_full_name: repository,
    raw_body_base64: Buffer.from(body).toString('base64'),
    signature: createHmac('sha256', key).update(body).digest('hex'),
    delivery_id,
    tag,
    artifact_ref: null,
  };
}

async function reports(): Promise<{ module_id: string; delivery_id: string; body_sha256?: string }[]> {
  return (await store.readAll({ after_position: 0, limit: 10_000 })).filter((e) => e.type === 'ModuleBuildReported').map((e) => e.data as never);
}

describe('catalog webhook: timing of refusals', () => {
  it('decrypts a secret for a delivery naming an unknown repository, as it does for a registered one', async () => {
    const key = await register('hooked', 'acme/hooked');
    const body = payload('acme/hooked');
    secrets.decrypted.length = 0;

    await expect(service.receiveWebhook(delivery('acme/hooked', body, 'wrong-key', 'd-1'), 'c1')).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(secrets.decrypted).toHaveLength(1);
    await expect(service.receiveWebhook(delivery('acme/unknown', payload('acme/unknown'), key, 'd-2'), 'c2')).rejects.toMatchObject({
      code: 'unauthenticated',
    });
    expect(secrets.decrypted).toHaveLength(2);
    // The dummy is sealed like a real secret: the same algorithm, key and ciphertext length.
    const [known, unknown] = secrets.decrypted;
    expect({ ...unknown!, ciphertext: unknown!.ciphertext.length }).toEqual({ ...known!, ciphertext: known!.ciphertext.length });
  });

  it('MACs the whole body under a key of the same length for an unknown repository as for a registered one', () => {
    const box = new SecretBox(randomBytes(32));
    const macs: { key: number; body: number }[] = [];
    const authenticator = new WebhookAuthenticator(box, (key, body) => {
      macs.push({ key: key.length, body: body.length });
      return hmacSha256(key, body);
    });
    const body = randomBytes(64 * 1024);
    const secret = 'k'.repeat(64);
    const sealed = box.encrypt(secret);
    expect(authenticator.authenticates(sealed, body, createHmac('sha256', secret).update(body).digest('hex'))).toBe(true);
    expect(authenticator.authenticates(null, body, createHmac('sha256', secret).update(body).digest('hex'))).toBe(false);
    expect(authenticator.authenticates(null, body, 'not hex')).toBe(false);
    expect(macs).toEqual([
      { key: 64, body: body.length },
      { key: 64, body: body.length },
      { key: 64, body: body.length },
    ]);
  });
});

describe('catalog webhook: replays', () => {
  it('records the same signed body once even when it comes back under a new delivery id', async () => {
    const key = await register('hooked', 'acme/hooked');
    const body = payload('acme/hooked');
    expect(await service.receiveWebhook(delivery('acme/hooked', body, key, 'd-1'), 'c1')).toMatchObject({ duplicate: false });
    now += 60_000;
    expect(await service.receiveWebhook(delivery('acme/hooked', body, key, 'd-2'), 'c2')).toMatchObject({ delivery_id: 'd-2', duplicate: true });
    expect((await reports()).map((r) => r.delivery_id)).toEqual(['d-1']);
  });

  it('records a new body under a delivery id the module already used once only (the id is stored per module)', async () => {
    const key = await register('hooked', 'acme/hooked');
    await service.receiveWebhook(delivery('acme/hooked', payload('acme/hooked'), key, 'd-1'), 'c1');
    const changed = await service.receiveWebhook(delivery('acme/hooked', payload('acme/hooked', 'v9.9.9'), key, 'd-1', 'v9.9.9'), 'c2');
    expect(changed).toMatchObject({ duplicate: true });
    expect(await reports()).toHaveLength(1);
  });

  it('keeps delivery ids apart per repository: another module may use the same id', async () => {
    const one = await register('one', 'acme/one');
    const two = await register('two', 'acme/two');
    expect(await service.receiveWebhook(delivery('acme/one', payload('acme/one'), one, 'shared-id'), 'c1')).toMatchObject({ duplicate: false });
    expect(await service.receiveWebhook(delivery('acme/two', payload('acme/two'), two, 'shared-id'), 'c2')).toMatchObject({ duplicate: false });
    expect((await reports()).map((r) => r.delivery_id)).toEqual(['shared-id', 'shared-id']);
  });

  it('forgets a body after the replay window, but never a delivery id it stored', async () => {
    const key = await register('hooked', 'acme/hooked');
    const body = payload('acme/hooked');
    await service.receiveWebhook(delivery('acme/hooked', body, key, 'd-1'), 'c1');
    now += WEBHOOK_REPLAY_WINDOW_MS - 1;
    expect(await service.receiveWebhook(delivery('acme/hooked', body, key, 'd-2'), 'c2')).toMatchObject({ duplicate: true });
    now += 1;
    expect(await service.receiveWebhook(delivery('acme/hooked', body, key, 'd-1'), 'c3')).toMatchObject({ duplicate: true });
    expect(await service.receiveWebhook(delivery('acme/hooked', body, key, 'd-3'), 'c4')).toMatchObject({ duplicate: false });
    const recorded = await reports();
    expect(recorded.map((r) => r.delivery_id)).toEqual(['d-1', 'd-3']);
    expect(new Set(recorded.map((r) => r.body_sha256)).size).toBe(1);
  });
});

describe('catalog webhook: property', () => {
  it('never accepts a delivery whose signature is not the body’s HMAC under the named repository’s secret', async () => {
    const keys = { 'acme/one': await register('one', 'acme/one'), 'acme/two': await register('two', 'acme/two') } as Record<string, string>;
    const repositories = ['acme/one', 'acme/two', 'acme/unknown', 'ACME/ONE'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...repositories),
        fc.string({ maxLength: 200 }),
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.stringMatching(/^[0-9a-f]{64}$/),
          fc.constantFrom('acme/one', 'acme/two').map((r) => ({ signWith: r })),
          fc.constant({ signWith: 'acme/one', flip: true }),
        ),
        fc.uuid(),
        async (repository, text, signature, delivery_id) => {
          const body = JSON.stringify({ repository: { full_name: repository }, ref: 'refs/tags/v1.0.0', text });
          let given: string;
          if (typeof signature === 'string') given = signature;
          else {
            const mac = createHmac('sha256', keys[signature.signWith]!).update(body).digest('hex');
            given = 'flip' in signature ? `${mac.slice(0, -1)}${mac.endsWith('0') ? '1' : '0'}` : mac;
          }
          const validKey = keys[repository.toLowerCase()];
          const valid = validKey !== undefined && given.toLowerCase() === createHmac('sha256', validKey).update(body).digest('hex');
          const attempt = service.receiveWebhook(
            {
              repository_full_name: repository,
              raw_body_base64: Buffer.from(body).toString('base64'),
              signature: given,
              delivery_id,
              tag: 'v1.0.0',
              artifact_ref: null,
            },
            'prop',
          );
          if (valid) await expect(attempt).resolves.toMatchObject({ delivery_id });
          else await expect(attempt).rejects.toMatchObject({ code: 'unauthenticated' });
        },
      ),
      { numRuns: 200, interruptAfterTimeLimit: 20_000 },
    );
  });
});
