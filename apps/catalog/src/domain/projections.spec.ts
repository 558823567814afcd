import type { CatalogEvent } from '@powernode/contracts';
import { foldProjection } from './catalog-projection.js';
import { REDIS_ID, T0, T1, T2, builtData, digestOf, moduleRegistered, rejectedData } from './catalog-fixtures.test-support.js';
import { getModule, listModules, modulesProjection } from './modules.projection.js';
import { getModuleVersion, listModuleVersions, versionCandidates, versionsProjection } from './versions.projection.js';
import { getTemplate, templatesProjection } from './templates.projection.js';
import { approvalsProjection, listPendingApprovals, overdueApprovals } from './approvals.projection.js';
import { refusalOf } from './decider-table.test-support.js';

const registered = moduleRegistered();
const built = (tag: string, at: string, extra: Parameters<typeof builtData>[0] = {}): CatalogEvent => ({ type: 'ModuleVersionBuilt', data: builtData({ tag, built_at: at, ...extra }) });

describe('modules projection', () => {
  it('folds updates, seeding, trust policy and secret rotation into the view', () => {
    const state = foldProjection(modulesProjection, [
      registered,
      { type: 'ModuleSpecSeeded', data: { module_id: REDIS_ID, name: 'my-redis', spec: { ...registered.data.spec, mask: ['/tmp/**'] }, source_version_id: null, seeded_at: T1 } },
      { type: 'ModuleUpdated', data: { module_id: REDIS_ID, name: 'my-redis', changes: { description: 'KV', priority: 7 }, updated_at: T1 } },
      { type: 'ModuleTrustPolicyUpdated', data: { module_id: REDIS_ID, name: 'my-redis', cosign_identity_regexp: 'id', cosign_issuer_regexp: 'iss', updated_at: T1 } },
      { type: 'ModuleWebhookSecretRotated', data: { module_id: REDIS_ID, name: 'my-redis', webhook_secret: { algorithm: 'a', key_id: 'k', ciphertext: 'x' }, rotated_at: T2 } },
    ]);
    expect(getModule(state, 'my-redis')).toMatchObject({
      id: REDIS_ID,
      mask: ['/tmp/**'],
      description: 'KV',
      priority: 7,
      cosign_identity_regexp: 'id',
      cosign_issuer_regexp: 'iss',
      webhook_secret_rotated_at: T2,
      created_at: T0,
      updated_at: T2,
    });
  });

  it('pages modules by name and refuses a cursor it did not issue', () => {
    const events: CatalogEvent[] = ['c', 'a', 'b'].map((n, i) => moduleRegistered({ module_id: `m-${n}`, name: `mod-${n}`, gitea_repo_full_name: `acme/${n}`, registered_at: [T0, T1, T2][i]! }));
    const state = foldProjection(modulesProjection, events);
    const first = listModules(state, { limit: 2 });
    expect(first.items.map((m) => m.name)).toEqual(['mod-a', 'mod-b']);
    expect(listModules(state, { limit: 2, cursor: first.next_cursor })).toEqual({ items: [expect.objectContaining({ name: 'mod-c' })], next_cursor: null });
    expect(refusalOf(() => listModules(state, { cursor: 'not-a-cursor' }))).toMatchObject({ code: 'validation_failed', details: { rule: 'cursor_from_this_list' } });
    expect(refusalOf(() => listModules(state, { limit: 0 }))).toMatchObject({ code: 'validation_failed', details: { rule: 'page_limit_range' } });
    expect(refusalOf(() => listModules(state, { limit: 201 }))).toMatchObject({ code: 'validation_failed' });
  });

  it('refuses an unknown module name (not_found)', () => {
    expect(refusalOf(() => getModule(foldProjection(modulesProjection, []), 'nope'))).toMatchObject({ code: 'not_found' });
  });
});

describe('versions projection', () => {
  it('orders newest first by semver precedence, then by creation time', () => {
    const state = foldProjection(versionsProjection, [
      registered,
      built('v1.9.0', T0),
      built('v1.10.0', T0),
      built('v1.10.0-rc.1', T1),
      built('1.2.0', T0),
      built('v1.2.0+rebuild', T2, { oci_digest: digestOf('f'), version_string: '1.2.0' }),
    ]);
    expect(listModuleVersions(state, 'my-redis').items.map((v) => [v.version_string, v.created_at])).toEqual([
      ['1.10.0', T0],
      ['1.10.0-rc.1', T1],
      ['1.9.0', T0],
      ['1.2.0', T2],
      ['1.2.0', T0],
    ]);
  });

  it('lists a rejected build with its reason and never offers it to dependency resolution', () => {
    const state = foldProjection(versionsProjection, [registered, { type: 'ModuleVersionRejected', data: rejectedData({ tag: 'v0.2.0' }) }, built('v0.1.0', T0)]);
    const [rejected] = listModuleVersions(state, 'my-redis').items;
    expect(rejected).toEqual({
      id: rejectedData({ tag: 'v0.2.0' }).version_id,
      module_name: 'my-redis',
      version_string: '0.2.0',
      promotion_state: 'built',
      composefs_digest: null,
      fsverity_root_hash: null,
      oci_ref: '127.0.0.1:5000/acme/my-redis:v0.2.0',
      oci_digest: digestOf('d'),
      cosign_verified: false,
      signer_identity: null,
      signer_issuer: null,
      rejection_reason: 'digest_mismatch: layer sha256:… does not match its descriptor',
      created_at: T0,
    });
    expect(versionCandidates(state, 'my-redis')).toEqual([{ version: '0.1.0', promotion_state: 'built' }]);
  });

  it('explains an unverified signature in rejection_reason', () => {
    const state = foldProjection(versionsProjection, [registered, built('v0.1.0', T0, { cosign_verified: false, verification_reason: 'issuer mismatch' })]);
    expect(listModuleVersions(state, 'my-redis').items[0]).toMatchObject({ cosign_verified: false, rejection_reason: 'signature_untrusted: issuer mismatch' });
  });

  it('keeps creation time and promotion state when a build is recorded again, and follows promotions', () => {
    const id = builtData({ tag: 'v0.1.0' }).version_id;
    const promoted: CatalogEvent = {
      type: 'ModuleVersionPromoted',
      data: { version_id: id, module_id: REDIS_ID, module_name: 'my-redis', version_string: '0.1.0', from: 'built', to: 'staging', promoted_by: 'a', approval_id: null, promoted_at: T1 },
    };
    const state = foldProjection(versionsProjection, [registered, built('v0.1.0', T0), promoted, built('v0.1.0', T2)]);
    expect(getModuleVersion(state, id)).toMatchObject({ promotion_state: 'staging', created_at: T0, requires: ['powernode/system-base@^1.0'] });
  });

  it('drops versions of a deleted module, including builds that arrive after the deletion', () => {
    const deleted: CatalogEvent = { type: 'ModuleDeleted', data: { module_id: REDIS_ID, name: 'my-redis', version_ids: [], versions_deleted: 0, deleted_at: T1 } };
    const state = foldProjection(versionsProjection, [registered, built('v0.1.0', T0), deleted, built('v0.2.0', T2)]);
    expect(state.by_module).toEqual({});
    expect(state.module_of_version).toEqual({});
    expect(refusalOf(() => listModuleVersions(state, 'my-redis'))).toMatchObject({ code: 'not_found' });
  });

  it('refuses an unknown version id (not_found)', () => {
    expect(refusalOf(() => getModuleVersion(foldProjection(versionsProjection, [registered]), 'nope'))).toMatchObject({ code: 'not_found' });
  });
});

describe('templates projection', () => {
  const created: CatalogEvent = { type: 'TemplateCreated', data: { template_id: 't-1', name: 'base', description: 'd', created_at: T0 } };
  const assigned: CatalogEvent = { type: 'ModuleAssignedToTemplate', data: { template_id: 't-1', template_name: 'base', module_id: REDIS_ID, module_name: 'my-redis', assigned_at: T1 } };

  it('applies a redelivered assignment once', () => {
    const state = foldProjection(templatesProjection, [created, assigned, assigned]);
    expect(getTemplate(state, 't-1')).toMatchObject({ modules: [{ id: REDIS_ID, name: 'my-redis' }], updated_at: T1 });
  });

  it('refuses an unknown template id (not_found)', () => {
    expect(refusalOf(() => getTemplate(foldProjection(templatesProjection, []), 't-9'))).toMatchObject({ code: 'not_found' });
  });
});

describe('approvals projection', () => {
  const requested = (id: string, at: string, expires: string): CatalogEvent => ({
    type: 'PromotionApprovalRequested',
    data: { approval_id: id, version_id: `v-${id}`, module_id: REDIS_ID, module_name: 'my-redis', version_string: '0.1.0', to: 'live', requested_by: 'alice', requested_at: at, expires_at: expires },
  });

  it('lists pending approvals oldest first, leaves out decided and overdue ones, and offers overdue ones for expiry', () => {
    const state = foldProjection(approvalsProjection, [
      requested('b', T1, '2026-05-01T15:00:00.000Z'),
      requested('a', T0, '2026-05-01T15:00:00.000Z'),
      requested('c', T0, '2026-05-01T10:30:00.000Z'),
      requested('d', T0, '2026-05-01T15:00:00.000Z'),
      { type: 'PromotionApprovalRejected', data: { approval_id: 'd', version_id: 'v-d', rejected_by: 'carol', reason: 'no', rejected_at: T1 } },
    ]);
    expect(listPendingApprovals(state, T2).items.map((a) => a.id)).toEqual(['a', 'b']);
    expect(overdueApprovals(state, T2).map((a) => a.id)).toEqual(['c']);
    expect(state.approvals['d']).toMatchObject({ status: 'rejected', reason: 'no', decided_by: 'carol' });
  });

  it('drops the approvals of a deleted module', () => {
    const state = foldProjection(approvalsProjection, [
      requested('a', T0, T2),
      { type: 'ModuleDeleted', data: { module_id: REDIS_ID, name: 'my-redis', version_ids: [], versions_deleted: 0, deleted_at: T1 } },
    ]);
    expect(state.approvals).toEqual({});
  });
});
