import { createHmac, randomBytes } from 'node:crypto';
import { CATALOG_RPCS, catalogStreams, type Actor, type ErrorBody } from '@powernode/contracts';
import { MemoryEventStore, powernodeEventCatalogue, type EventEnvelope, type RpcTransportHandler } from '@powernode/events';
import { createLogger } from '@powernode/runtime';
import { catalogRpcHandlers } from './catalog-rpc-handlers.js';
import { CatalogService } from './catalog-service.js';
import { builtData } from './domain/catalog-fixtures.test-support.js';
import { CatalogReadModels } from './read-models.js';
import { SecretBox } from './secrets/secret-box.js';

/*
 * The catalog's workflows in process: the service and its read models on the memory store, driven through the
 * same handler table the NATS transport serves (so each request passes its declared schema), with no bus, no
 * child process and no network. Each step is given the events so far, sends one command, and names the events
 * it appended; a refusal names its code and appends nothing.
 */

const T0 = Date.parse('2026-05-01T10:00:00.000Z');
const ADMIN: Actor = { id: 'tok-admin', name: 'admin', role: 'admin' };
const OPERATOR: Actor = { id: 'tok-op', name: 'op', role: 'operator' };
const ALICE: Actor = { id: 'tok-alice', name: 'alice', role: 'approver' };
const CAROL: Actor = { id: 'tok-carol', name: 'carol', role: 'approver' };

type CatalogRpc = keyof typeof CATALOG_RPCS;

let store: MemoryEventStore;
let readModels: CatalogReadModels;
let handlers: Map<string, RpcTransportHandler>;
let now: number;

beforeEach(async () => {
  store = new MemoryEventStore(powernodeEventCatalogue());
  const logger = createLogger('catalog-test', 'silent');
  readModels = new CatalogReadModels(store, logger);
  await readModels.start();
  now = T0;
  const service = new CatalogService(store, readModels, new SecretBox(randomBytes(32)), logger, () => new Date(now));
  await service.seed();
  handlers = catalogRpcHandlers({ service, readModels, logger });
});
afterEach(() => readModels.stop());

/** Sends one request through the handler table, as the transport would; returns what it appended with the reply. */
async function send(
  name: CatalogRpc,
  payload: unknown,
): Promise<{ reply: { ok: true; data: any } | { ok: false; error: ErrorBody }; appended: EventEnvelope[] }> {
  const handler = handlers.get(CATALOG_RPCS[name].pattern);
  if (handler === undefined) throw new Error(`no handler for ${name}`);
  const head = await store.headPosition();
  const reply = (await handler(payload)) as { ok: true; data: any } | { ok: false; error: ErrorBody };
  return { reply, appended: await store.readAll({ after_position: head, limit: 10_000 }) };
}

/** A command that must succeed: its answer and the types of the events it appended. */
async function ok(name: CatalogRpc, actor: Actor, input: unknown): Promise<{ data: any; events: string[]; appended: EventEnvelope[] }> {
  const { reply, appended } = await send(name, { actor, input });
  if (!reply.ok) throw new Error(`${name} refused: ${reply.error.code}: ${reply.error.message}`);
  return { data: reply.data, events: appended.map((e) => e.type), appended };
}

/** A command that must be refused: its error body, after checking that it appended nothing. */
async function refused(name: CatalogRpc, payload: unknown): Promise<ErrorBody> {
  const { reply, appended } = await send(name, payload);
  if (reply.ok) throw new Error(`${name} was accepted: ${JSON.stringify(reply.data)}`);
  expect(appended.map((e) => e.type)).toEqual([]);
  return reply.error;
}

const moduleInput = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  category: 'userland',
  variety: 'subscription',
  gitea_repo_full_name: `acme/modules/${name}`,
  cosign_identity_regexp: 'https://ci\\.example\\.com/acme/.*',
  cosign_issuer_regexp: 'https://token\\.actions\\.example\\.com',
  ...extra,
});

async function register(name: string, extra: Record<string, unknown> = {}): Promise<{ id: string; name: string; webhook_secret: string }> {
  const { data } = await ok('createModule', ADMIN, moduleInput(name, extra));
  return { id: data.module.id, name, webhook_secret: data.webhook_secret };
}

/** Ingest's hand-off of a verified (or not) build of `tag`; returns the version id. */
async function build(module: { id: string; name: string }, tag: string, options: { requires?: string[]; verified?: boolean } = {}): Promise<string> {
  const data = builtData({
    module_id: module.id,
    module_name: module.name,
    tag,
    cosign_verified: options.verified ?? true,
    ...(options.verified === false ? { verification_reason: 'identity_mismatch: signer does not match cosign_identity_regexp' } : {}),
    manifest: { schema_version: 1, name: module.name, dependencies: { requires: options.requires ?? [], provides: [] } },
  });
  const { reply } = await send('recordBuild', { data, causation_id: null });
  if (!reply.ok) throw new Error(`recordBuild refused: ${reply.error.code}: ${reply.error.message}`);
  return data.version_id;
}

const promote = (actor: Actor, id: string, to: string) => ok('promoteModuleVersion', actor, { id, to });
const stateOf = async (id: string) => (await ok('getModuleVersion', ADMIN, { id })).data.version.promotion_state as string;

describe('registering a module', () => {
  it('claims the name, records the module with its secret sealed, and shows the secret once', async () => {
    const { data, events, appended } = await ok('createModule', ADMIN, moduleInput('my-redis'));
    expect(events).toEqual(['ModuleIdentityClaimed', 'ModuleRegistered']);
    expect(data.webhook_secret).toMatch(/^[0-9a-f]{64}$/);
    expect(data.module).toMatchObject({ name: 'my-redis', gitea_repo_full_name: 'acme/modules/my-redis' });
    expect(appended.map((e) => e.stream)).toEqual([catalogStreams.moduleRegistry(), catalogStreams.module(data.module.id)]);
    expect(appended.every((e) => e.actor === 'admin')).toBe(true);
    // Neither the log nor any later answer holds the secret.
    expect(JSON.stringify(appended)).not.toContain(data.webhook_secret);
    expect(JSON.stringify((await ok('getModule', OPERATOR, { module_name: 'my-redis' })).data)).not.toContain(data.webhook_secret);
  });

  it('refuses a taken name and a taken repository (already_exists) and appends nothing', async () => {
    const first = await register('my-redis');
    expect(await refused('createModule', { actor: ADMIN, input: moduleInput('my-redis', { gitea_repo_full_name: 'acme/other' }) })).toMatchObject({
      code: 'already_exists',
      details: { rule: 'module_name_unique', module_id: first.id },
    });
    expect(await refused('createModule', { actor: ADMIN, input: moduleInput('other', { gitea_repo_full_name: 'ACME/modules/my-redis' }) })).toMatchObject({
      code: 'already_exists',
      details: { rule: 'repository_unique', module_id: first.id },
    });
  });

  it('refuses bad input with the paths of the bad fields before anything is claimed', async () => {
    const error = await refused('createModule', { actor: ADMIN, input: moduleInput('Bad Name', { category: 'nope', gitea_repo_full_name: 'acme/x' }) });
    expect(error.code).toBe('validation_failed');
    expect((error.details?.['issues'] as { path: string }[]).map((i) => i.path).sort()).toEqual(['input.category', 'input.name']);
  });

  it('gives the name back when the registration itself is refused, so it can be registered properly', async () => {
    const { reply, appended } = await send('createModule', { actor: ADMIN, input: moduleInput('bad-pattern', { cosign_identity_regexp: '(unclosed' }) });
    expect(reply).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    expect(JSON.stringify(reply)).toContain('cosign_identity_regexp');
    // The claim is released again and no module is recorded.
    expect(appended.map((e) => e.type)).toEqual(['ModuleIdentityClaimed', 'ModuleIdentityReleased']);
    expect((await send('getModule', { actor: ADMIN, input: { module_name: 'bad-pattern' } })).reply).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect((await ok('createModule', ADMIN, moduleInput('bad-pattern'))).events).toEqual(['ModuleIdentityClaimed', 'ModuleRegistered']);
  });

  it('lists modules a page at a time with the cursor it returns, and refuses a cursor it did not issue', async () => {
    for (const name of ['page-c', 'page-a', 'page-b']) await register(name);
    const first = (await ok('listModules', OPERATOR, { limit: 2 })).data;
    expect(first.modules.map((m: { name: string }) => m.name)).toEqual(['page-a', 'page-b']);
    const second = (await ok('listModules', OPERATOR, { limit: 2, cursor: first.next_cursor })).data;
    expect(second).toMatchObject({ modules: [{ name: 'page-c' }], next_cursor: null });
    expect((await refused('listModules', { actor: OPERATOR, input: { limit: 2, cursor: 'not-a-cursor' } })).code).toBe('validation_failed');
  });

  it('rotates the webhook secret: a new one shown once, the old one no longer signs', async () => {
    const module = await register('hooked');
    const { data, events } = await ok('rotateWebhookSecret', ADMIN, { module_name: 'hooked' });
    expect(events).toEqual(['ModuleWebhookSecretRotated']);
    expect(data.webhook_secret).toMatch(/^[0-9a-f]{64}$/);
    expect(data.webhook_secret).not.toBe(module.webhook_secret);
    const body = JSON.stringify({ ref: 'refs/tags/v0.1.0' });
    expect(await refused('receiveWebhook', delivery('acme/modules/hooked', body, module.webhook_secret, 'd-1'))).toMatchObject({ code: 'unauthenticated' });
    expect((await send('receiveWebhook', delivery('acme/modules/hooked', body, data.webhook_secret, 'd-1'))).reply).toMatchObject({ ok: true });
  });
});

function delivery(repository: string, body: string, key: string, delivery_id: string, tag: string | null = 'v0.1.0') {
  return {
    repository_full_name: repository,
    raw_body_base64: Buffer.from(body).toString('base64'),
    signature: createHmac('sha256', key).update(body).digest('hex'),
    delivery_id,
    tag,
    artifact_ref: null,
  };
}

describe('a build report becoming a version', () => {
  it('records a signed report once, and ingest’s verified build as a built version that seeds the module spec', async () => {
    const module = await register('hooked');
    const body = JSON.stringify({ repository: { full_name: 'acme/modules/hooked' }, ref: 'refs/tags/v0.1.0' });
    const reported = await send('receiveWebhook', delivery('acme/modules/hooked', body, module.webhook_secret, 'd-1'));
    expect(reported.reply).toEqual({ ok: true, data: { delivery_id: 'd-1', duplicate: false, module_name: 'hooked' } });
    expect(reported.appended.map((e) => e.type)).toEqual(['ModuleBuildReported']);
    expect(reported.appended[0]!.data).toMatchObject({ module_id: module.id, delivery_id: 'd-1', tag: 'v0.1.0' });
    const again = await send('receiveWebhook', delivery('acme/modules/hooked', body, module.webhook_secret, 'd-1'));
    expect(again.reply).toMatchObject({ ok: true, data: { duplicate: true } });
    expect(again.appended).toEqual([]);

    const data = builtData({
      module_id: module.id,
      module_name: 'hooked',
      tag: 'v0.1.0',
      manifest: { schema_version: 1, name: 'hooked', mask: ['/var/cache/**'], dependencies: { requires: [], provides: [] } },
    });
    const recorded = await send('recordBuild', { data, causation_id: reported.appended[0]!.id });
    expect(recorded.appended.map((e) => [e.type, e.causation_id])).toEqual([
      ['ModuleVersionBuilt', reported.appended[0]!.id],
      ['ModuleSpecSeeded', reported.appended[0]!.id],
    ]);
    expect(recorded.reply).toMatchObject({
      ok: true,
      data: { version: { id: data.version_id, version_string: '0.1.0', promotion_state: 'built', cosign_verified: true } },
    });
    expect((await ok('getModule', ADMIN, { module_name: 'hooked' })).data.module.mask).toEqual(['/var/cache/**']);
    // The same report again records nothing more.
    expect((await send('recordBuild', { data, causation_id: reported.appended[0]!.id })).appended).toEqual([]);
    expect((await ok('listModuleVersions', ADMIN, { module_name: 'hooked' })).data.versions.map((v: { id: string }) => v.id)).toEqual([data.version_id]);
  });

  it('refuses a forged signature and an unknown repository alike (unauthenticated) and records nothing', async () => {
    const module = await register('hooked');
    const body = JSON.stringify({ ref: 'refs/tags/v0.1.0' });
    const forged = await refused('receiveWebhook', delivery('acme/modules/hooked', body, 'not-the-secret', 'd-1'));
    const unknown = await refused('receiveWebhook', delivery('acme/modules/unknown', body, module.webhook_secret, 'd-2'));
    expect(forged).toMatchObject({ code: 'unauthenticated' });
    expect(unknown).toEqual(forged);
  });

  it('refuses a build whose version id is not derived from its module and tag (validation_failed)', async () => {
    const module = await register('hooked');
    const data = { ...builtData({ module_id: module.id, module_name: 'hooked', tag: 'v0.1.0' }), version_id: 'made-up' };
    expect(await refused('recordBuild', { data, causation_id: null })).toMatchObject({ code: 'validation_failed' });
  });
});

describe('promoting a version', () => {
  it('walks built → staging → blessed → live with another approver, and refuses skipping states and missing dependencies', async () => {
    const dep = await register('dep-base', { category: 'system-base' });
    const app = await register('web-app');
    const depVersion = await build(dep, 'v1.0.0');
    const appVersion = await build(app, 'v0.1.0', { requires: ['powernode/dep-base@^1.0'] });

    expect(await refused('promoteModuleVersion', { actor: OPERATOR, input: { id: appVersion, to: 'live' } })).toMatchObject({ code: 'invalid_transition' });
    const blocked = await refused('promoteModuleVersion', { actor: OPERATOR, input: { id: appVersion, to: 'staging' } });
    expect(blocked.code).toBe('dependency_not_promoted');
    expect(blocked.message).toContain('dep-base');

    expect((await promote(OPERATOR, depVersion, 'staging')).events).toEqual(['ModuleVersionPromoted']);
    const staged = await promote(OPERATOR, appVersion, 'staging');
    expect(staged.events).toEqual(['ModuleVersionPromoted']);
    expect(staged.appended[0]!.data).toMatchObject({ version_id: appVersion, from: 'built', to: 'staging' });
    expect(staged.data.version.promotion_state).toBe('staging');
    expect((await promote(OPERATOR, appVersion, 'blessed')).data.version.promotion_state).toBe('blessed');

    // live asks for an approval instead of promoting; asking again answers the same pending approval.
    const asked = await promote(ALICE, appVersion, 'live');
    expect(asked.events).toEqual(['PromotionApprovalRequested']);
    expect(asked.data.approval).toMatchObject({ status: 'pending', version_id: appVersion, requested_by: 'alice' });
    const approval_id = asked.data.approval.id as string;
    const askedAgain = await promote(ALICE, appVersion, 'live');
    expect(askedAgain.events).toEqual([]);
    expect(askedAgain.data.approval.id).toBe(approval_id);
    expect(await stateOf(appVersion)).toBe('blessed');

    // Four eyes: not without the approver role, not by the requester; then by another approver.
    expect(await refused('approvePromotion', { actor: OPERATOR, input: { approval_id } })).toMatchObject({
      code: 'forbidden',
      details: { rule: 'approver_role_required' },
    });
    expect(await refused('approvePromotion', { actor: ALICE, input: { approval_id } })).toMatchObject({
      code: 'self_approval',
      details: { rule: 'approver_differs_from_requester' },
    });
    // Another token with the requester's name is another principal: ids decide, names are labels.
    const granted = await ok('approvePromotion', { ...CAROL, name: 'alice' }, { approval_id });
    expect(granted.events).toEqual(['PromotionApprovalGranted', 'ModuleVersionPromoted']);
    expect(granted.data.version.promotion_state).toBe('live');
    expect(await refused('approvePromotion', { actor: CAROL, input: { approval_id } })).toMatchObject({
      code: 'invalid_transition',
      details: { rule: 'approval_decided_once' },
    });

    // Retired is final.
    expect((await promote(OPERATOR, appVersion, 'retired')).data.version.promotion_state).toBe('retired');
    expect(await refused('promoteModuleVersion', { actor: OPERATOR, input: { id: appVersion, to: 'staging' } })).toMatchObject({ code: 'invalid_transition' });
  });

  it('leaves the version where it was when the approval is rejected', async () => {
    const module = await register('solo', { category: 'system-base' });
    const version = await build(module, 'v1.0.0');
    await promote(OPERATOR, version, 'staging');
    await promote(OPERATOR, version, 'blessed');
    const approval_id = (await promote(OPERATOR, version, 'live')).data.approval.id as string;
    const rejected = await ok('rejectPromotion', CAROL, { approval_id, reason: 'not this week' });
    expect(rejected.events).toEqual(['PromotionApprovalRejected']);
    expect(rejected.data.approval).toMatchObject({ status: 'rejected', reason: 'not this week' });
    expect(await stateOf(version)).toBe('blessed');
    expect(await refused('approvePromotion', { actor: ALICE, input: { approval_id } })).toMatchObject({ code: 'invalid_transition' });
  });

  it('refuses an unverified version anywhere but retired, and an unknown version or state', async () => {
    const module = await register('unsigned-thing');
    const version = await build(module, 'v1.0.0', { verified: false });
    expect(await refused('promoteModuleVersion', { actor: OPERATOR, input: { id: version, to: 'staging' } })).toMatchObject({ code: 'unverified_signature' });
    expect(await refused('promoteModuleVersion', { actor: OPERATOR, input: { id: version, to: 'sideways' } })).toMatchObject({ code: 'validation_failed' });
    expect(await refused('promoteModuleVersion', { actor: OPERATOR, input: { id: 'no-such-version', to: 'staging' } })).toMatchObject({ code: 'not_found' });
    expect((await promote(OPERATOR, version, 'retired')).data.version.promotion_state).toBe('retired');
  });
});

describe('templates', () => {
  const REDIS = 'schema_version: 1\nname: redis-protected\nfile_spec:\n  - "/etc/redis/**"\nprotected_spec:\n  - "/etc/redis/redis.conf"\n';
  const OVERLAY = 'schema_version: 1\nname: overlay-etc\nfile_spec:\n  - "/etc/**"\nmask:\n  - "/etc/motd"\n';

  it('assigns and unassigns by name, previews the composition with a protected path masked out of a neighbour, and guards delete', async () => {
    await register('redis-protected', { manifest_yaml: REDIS });
    await register('overlay-etc', { manifest_yaml: OVERLAY });
    const templates = (await ok('listTemplates', ADMIN, {})).data.templates as { id: string; name: string }[];
    expect(templates.map((t) => t.name)).toEqual(expect.arrayContaining(['base', 'hardened']));
    const base = templates.find((t) => t.name === 'base')!;

    const assigned = await ok('assignModule', ADMIN, { template_id: base.id, module_name: 'redis-protected' });
    expect(assigned.events).toEqual(['ModuleAssignedToTemplate']);
    expect(assigned.data.template.modules.map((m: { name: string }) => m.name)).toContain('redis-protected');
    expect(await refused('assignModule', { actor: ADMIN, input: { template_id: base.id, module_name: 'redis-protected' } })).toMatchObject({
      code: 'already_assigned',
    });
    expect((await refused('assignModule', { actor: ADMIN, input: { template_id: 'base', module_name: 'no-such-module' } })).code).toBe('not_found');
    expect((await ok('assignModule', ADMIN, { template_id: 'base', module_name: 'overlay-etc' })).events).toEqual(['ModuleAssignedToTemplate']);

    const preview = (await ok('composePreview', ADMIN, { template_id: 'base' })).data.preview;
    const overlay = preview.layers.find((l: { module: string }) => l.module === 'overlay-etc');
    expect(overlay.effective_mask).toEqual(expect.arrayContaining(['/etc/motd', '/etc/redis/redis.conf']));
    const redis = preview.layers.find((l: { module: string }) => l.module === 'redis-protected');
    expect(redis.effective_mask).not.toContain('/etc/redis/redis.conf');

    const guarded = await refused('deleteModule', { actor: ADMIN, input: { name: 'redis-protected' } });
    expect(guarded.code).toBe('module_assigned');
    expect(guarded.message).toContain('base');

    const unassigned = await ok('unassignModule', ADMIN, { template_id: base.id, module_name: 'redis-protected' });
    expect(unassigned.events).toEqual(['ModuleUnassignedFromTemplate']);
    expect(unassigned.data.template.modules.map((m: { name: string }) => m.name)).not.toContain('redis-protected');
    // Unassigning again changes nothing.
    expect((await ok('unassignModule', ADMIN, { template_id: base.id, module_name: 'redis-protected' })).events).toEqual([]);

    const deleted = await ok('deleteModule', ADMIN, { name: 'redis-protected' });
    expect(deleted.data).toEqual({ deleted: true, versions_deleted: 0 });
    expect(deleted.events).toEqual(['ModuleDeleted', 'ModuleIdentityReleased']);
    expect(await refused('getModule', { actor: ADMIN, input: { module_name: 'redis-protected' } })).toMatchObject({ code: 'not_found' });
    // The name is free again.
    await register('redis-protected');
  });

  it('creates a template once by name and refuses the same name again', async () => {
    const created = await ok('createTemplate', ADMIN, { name: 'edge', description: 'edge nodes' });
    expect(created.events).toEqual(['TemplateCreated']);
    expect(created.data.template).toMatchObject({ name: 'edge', modules: [] });
    expect(await refused('createTemplate', { actor: ADMIN, input: { name: 'edge' } })).toMatchObject({ code: 'already_exists' });
    expect(await refused('getTemplate', { actor: ADMIN, input: { template_id: 'no-such-template' } })).toMatchObject({ code: 'not_found' });
  });

  it('refuses a second provider of a capability in one template (provides_conflict) and appends nothing', async () => {
    await register('cache-a');
    await register('cache-b');
    await ok('updateModule', ADMIN, { module_name: 'cache-a', provides: ['cache'] });
    await ok('updateModule', ADMIN, { module_name: 'cache-b', provides: ['cache'] });
    await ok('assignModule', ADMIN, { template_id: 'base', module_name: 'cache-a' });
    expect(await refused('assignModule', { actor: ADMIN, input: { template_id: 'base', module_name: 'cache-b' } })).toMatchObject({
      code: 'provides_conflict',
      details: { rule: 'one_provider_per_capability', conflicts: [{ capability: 'cache', modules: expect.arrayContaining(['cache-a', 'cache-b']) }] },
    });
    // Another template may hold the other provider.
    expect((await ok('assignModule', ADMIN, { template_id: 'hardened', module_name: 'cache-b' })).events).toEqual(['ModuleAssignedToTemplate']);
  });
});
