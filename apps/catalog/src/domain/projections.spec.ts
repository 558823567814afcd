import type { CatalogEvent } from '@powernode/contracts';
import { foldEvents } from '@powernode/events';
import { refusalOf } from '@powernode/testing';
import {
  type CatalogProjection,
  getModule,
  listModules,
  modulesProjection,
  webhookRouteFor,
  webhookRoutesProjection,
  getModuleVersion,
  listModuleVersions,
  moduleVersionIds,
  versionCandidates,
  versionsProjection,
  getTemplate,
  listTemplates,
  templatesProjection,
  templatesUsingModule,
  approvalsProjection,
  getApproval,
  listPendingApprovals,
  overdueApprovals,
} from '@powernode/catalog-views';
import { REDIS_ID, T0, T1, T2, builtData, digestOf, encryptedSecret, moduleRegistered, rejectedData } from './catalog-fixtures.test-support.js';

const registered = moduleRegistered();
const built = (tag: string, at: string, extra: Parameters<typeof builtData>[0] = {}): CatalogEvent => ({
  type: 'ModuleVersionBuilt',
  data: builtData({ tag, built_at: at, ...extra }),
});

describe('modules projection', () => {
  it('folds updates, seeding, trust policy and secret rotation into the view', () => {
    const state = foldEvents(modulesProjection, [
      registered,
      {
        type: 'ModuleSpecSeeded',
        data: { module_id: REDIS_ID, name: 'my-redis', spec: { ...registered.data.spec, mask: ['/tmp/**'] }, source_version_id: null, seeded_at: T1 },
      },
      { type: 'ModuleUpdated', data: { module_id: REDIS_ID, name: 'my-redis', changes: { description: 'KV', priority: 7 }, updated_at: T1 } },
      {
        type: 'ModuleTrustPolicyUpdated',
        data: { module_id: REDIS_ID, name: 'my-redis', cosign_identity_regexp: 'id', cosign_issuer_regexp: 'iss', updated_at: T1 },
      },
      {
        type: 'ModuleWebhookSecretRotated',
        data: { module_id: REDIS_ID, name: 'my-redis', webhook_secret: { algorithm: 'a', key_id: 'k', ciphertext: 'x' }, rotated_at: T2 },
      },
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
    const events: CatalogEvent[] = ['c', 'a', 'b'].map((n, i) =>
      moduleRegistered({ module_id: `m-${n}`, name: `mod-${n}`, gitea_repo_full_name: `acme/${n}`, registered_at: [T0, T1, T2][i]! }),
    );
    const state = foldEvents(modulesProjection, events);
    const first = listModules(state, { limit: 2 });
    expect(first.items.map((m) => m.name)).toEqual(['mod-a', 'mod-b']);
    expect(listModules(state, { limit: 2, cursor: first.next_cursor })).toEqual({ items: [expect.objectContaining({ name: 'mod-c' })], next_cursor: null });
    expect(refusalOf(() => listModules(state, { cursor: 'not-a-cursor' }))).toMatchObject({
      code: 'validation_failed',
      details: { rule: 'cursor_from_this_list' },
    });
    expect(refusalOf(() => listModules(state, { limit: 0 }))).toMatchObject({ code: 'validation_failed', details: { rule: 'page_limit_range' } });
    expect(refusalOf(() => listModules(state, { limit: 201 }))).toMatchObject({ code: 'validation_failed' });
  });

  it('refuses an unknown module name (not_found)', () => {
    expect(refusalOf(() => getModule(foldEvents(modulesProjection, []), 'nope'))).toMatchObject({ code: 'not_found' });
  });
});

describe('versions projection', () => {
  it('orders newest first by semver precedence, then by creation time', () => {
    const state = foldEvents(versionsProjection, [
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
    const state = foldEvents(versionsProjection, [registered, { type: 'ModuleVersionRejected', data: rejectedData({ tag: 'v0.2.0' }) }, built('v0.1.0', T0)]);
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
    const state = foldEvents(versionsProjection, [registered, built('v0.1.0', T0, { cosign_verified: false, verification_reason: 'issuer mismatch' })]);
    expect(listModuleVersions(state, 'my-redis').items[0]).toMatchObject({ cosign_verified: false, rejection_reason: 'signature_untrusted: issuer mismatch' });
  });

  it('follows a re-verification: verdict, signer and reason change, promotion state stays', () => {
    const id = builtData({ tag: 'v0.1.0' }).version_id;
    const promoted: CatalogEvent = {
      type: 'ModuleVersionPromoted',
      data: {
        version_id: id,
        module_id: REDIS_ID,
        module_name: 'my-redis',
        version_string: '0.1.0',
        from: 'built',
        to: 'staging',
        promoted_by: 'a',
        approval_id: null,
        promoted_at: T1,
      },
    };
    const reverified = (cosign_verified: boolean, verification_reason?: string): CatalogEvent => ({
      type: 'ModuleVersionReverified',
      data: {
        version_id: id,
        module_id: REDIS_ID,
        module_name: 'my-redis',
        version_string: '0.1.0',
        oci_digest: digestOf('a'),
        cosign_verified,
        signer_identity: 'user@example.com',
        signer_issuer: 'https://issuer.example.com',
        ...(verification_reason === undefined ? {} : { verification_reason }),
        cosign_identity_regexp: 'x',
        cosign_issuer_regexp: 'y',
        requested_by: 'alice',
        reverified_at: T2,
      },
    });
    const lost = foldEvents(versionsProjection, [registered, built('v0.1.0', T0), promoted, reverified(false, 'identity_mismatch: no')]);
    expect(getModuleVersion(lost, id)).toMatchObject({
      promotion_state: 'staging',
      cosign_verified: false,
      signer_identity: 'user@example.com',
      rejection_reason: 'signature_untrusted: identity_mismatch: no',
    });
    const regained = foldEvents(versionsProjection, [registered, built('v0.1.0', T0), promoted, reverified(false, 'identity_mismatch: no'), reverified(true)]);
    expect(getModuleVersion(regained, id)).toMatchObject({ promotion_state: 'staging', cosign_verified: true, rejection_reason: null });
  });

  it('keeps creation time and promotion state when a build is recorded again, and follows promotions', () => {
    const id = builtData({ tag: 'v0.1.0' }).version_id;
    const promoted: CatalogEvent = {
      type: 'ModuleVersionPromoted',
      data: {
        version_id: id,
        module_id: REDIS_ID,
        module_name: 'my-redis',
        version_string: '0.1.0',
        from: 'built',
        to: 'staging',
        promoted_by: 'a',
        approval_id: null,
        promoted_at: T1,
      },
    };
    const state = foldEvents(versionsProjection, [registered, built('v0.1.0', T0), promoted, built('v0.1.0', T2)]);
    expect(getModuleVersion(state, id)).toMatchObject({ promotion_state: 'staging', created_at: T0, requires: ['powernode/system-base@^1.0'] });
  });

  it('drops versions of a deleted module, including builds that arrive after the deletion', () => {
    const deleted: CatalogEvent = {
      type: 'ModuleDeleted',
      data: { module_id: REDIS_ID, name: 'my-redis', version_ids: [], versions_deleted: 0, deleted_at: T1 },
    };
    const state = foldEvents(versionsProjection, [registered, built('v0.1.0', T0), deleted, built('v0.2.0', T2)]);
    expect(state.by_module).toEqual({});
    expect(state.module_of_version).toEqual({});
    expect(refusalOf(() => listModuleVersions(state, 'my-redis'))).toMatchObject({ code: 'not_found' });
  });

  it('refuses an unknown version id (not_found)', () => {
    expect(refusalOf(() => getModuleVersion(foldEvents(versionsProjection, [registered]), 'nope'))).toMatchObject({ code: 'not_found' });
  });
});

describe('templates projection', () => {
  const created: CatalogEvent = { type: 'TemplateCreated', data: { template_id: 't-1', name: 'base', description: 'd', created_at: T0 } };
  const assigned: CatalogEvent = {
    type: 'ModuleAssignedToTemplate',
    data: { template_id: 't-1', template_name: 'base', module_id: REDIS_ID, module_name: 'my-redis', assigned_at: T1 },
  };

  it('applies a redelivered assignment once', () => {
    const state = foldEvents(templatesProjection, [created, assigned, assigned]);
    expect(getTemplate(state, 't-1')).toMatchObject({ modules: [{ id: REDIS_ID, name: 'my-redis' }], updated_at: T1 });
  });

  it('refuses an unknown template id (not_found)', () => {
    expect(refusalOf(() => getTemplate(foldEvents(templatesProjection, []), 't-9'))).toMatchObject({ code: 'not_found' });
  });
});

describe('approvals projection', () => {
  const requested = (id: string, at: string, expires: string): CatalogEvent => ({
    type: 'PromotionApprovalRequested',
    data: {
      approval_id: id,
      version_id: `v-${id}`,
      module_id: REDIS_ID,
      module_name: 'my-redis',
      version_string: '0.1.0',
      to: 'live',
      requested_by: 'alice',
      requested_at: at,
      expires_at: expires,
    },
  });

  it('lists pending approvals oldest first, leaves out decided and overdue ones, and offers overdue ones for expiry', () => {
    const state = foldEvents(approvalsProjection, [
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
    const state = foldEvents(approvalsProjection, [
      requested('a', T0, T2),
      { type: 'ModuleDeleted', data: { module_id: REDIS_ID, name: 'my-redis', version_ids: [], versions_deleted: 0, deleted_at: T1 } },
    ]);
    expect(state.approvals).toEqual({});
  });
});

describe('projections fold in place', () => {
  const OTHER_ID = '0195f0a0-0000-7000-8000-00000000000f';
  const other = moduleRegistered({ module_id: OTHER_ID, name: 'other', gitea_repo_full_name: 'acme/other' });
  const v1 = builtData({ tag: 'v0.1.0' }).version_id;
  const promoted = (to: 'staging' | 'built', from: 'staging' | 'built'): CatalogEvent => ({
    type: 'ModuleVersionPromoted',
    data: {
      version_id: v1,
      module_id: REDIS_ID,
      module_name: 'my-redis',
      version_string: '0.1.0',
      from,
      to,
      promoted_by: 'a',
      approval_id: null,
      promoted_at: T1,
    },
  });
  const assignedTo = (template: string, moduleId: string, moduleName: string): CatalogEvent => ({
    type: 'ModuleAssignedToTemplate',
    data: { template_id: `t-${template}`, template_name: template, module_id: moduleId, module_name: moduleName, assigned_at: T1 },
  });
  const unassignedFrom = (template: string, moduleId: string, moduleName: string): CatalogEvent => ({
    type: 'ModuleUnassignedFromTemplate',
    data: { template_id: `t-${template}`, template_name: template, module_id: moduleId, module_name: moduleName, unassigned_at: T2 },
  });
  const templateCreated = (name: string): CatalogEvent => ({
    type: 'TemplateCreated',
    data: { template_id: `t-${name}`, name, description: '', created_at: T0 },
  });
  const requested = (id: string, moduleId = REDIS_ID): CatalogEvent => ({
    type: 'PromotionApprovalRequested',
    data: {
      approval_id: id,
      version_id: v1,
      module_id: moduleId,
      module_name: 'my-redis',
      version_string: '0.1.0',
      to: 'live',
      requested_by: 'alice',
      requested_at: T0,
      expires_at: T2,
    },
  });
  const rotated = (moduleId: string, ciphertext: string): CatalogEvent => ({
    type: 'ModuleWebhookSecretRotated',
    data: { module_id: moduleId, name: 'my-redis', webhook_secret: { ...encryptedSecret, ciphertext }, rotated_at: T1 },
  });
  const deleted = (moduleId: string, name: string, versionIds: string[] = []): CatalogEvent => ({
    type: 'ModuleDeleted',
    data: { module_id: moduleId, name, version_ids: versionIds, versions_deleted: versionIds.length, deleted_at: T2 },
  });

  /** Every kind of event the catalog read models fold, including deletions and redeliveries. */
  const log: CatalogEvent[] = [
    registered,
    other,
    {
      type: 'ModuleSpecSeeded',
      data: { module_id: REDIS_ID, name: 'my-redis', spec: { ...registered.data.spec, mask: ['/tmp/**'] }, source_version_id: null, seeded_at: T1 },
    },
    { type: 'ModuleUpdated', data: { module_id: REDIS_ID, name: 'my-redis', changes: { priority: 7 }, updated_at: T1 } },
    built('v0.1.0', T0),
    built('v0.2.0', T1),
    built('v0.1.0', T0),
    { type: 'ModuleVersionRejected', data: rejectedData({ tag: 'v0.3.0' }) },
    built('v1.0.0', T0, { module_id: OTHER_ID, module_name: 'other' }),
    promoted('staging', 'built'),
    rotated(REDIS_ID, 'cm90YXRlZA=='),
    templateCreated('base'),
    templateCreated('edge'),
    assignedTo('base', REDIS_ID, 'my-redis'),
    assignedTo('edge', REDIS_ID, 'my-redis'),
    assignedTo('base', OTHER_ID, 'other'),
    unassignedFrom('edge', REDIS_ID, 'my-redis'),
    requested('ap-1'),
    requested('ap-2', OTHER_ID),
    { type: 'PromotionApprovalGranted', data: { approval_id: 'ap-1', version_id: v1, approved_by: 'bob', approved_at: T1 } },
    deleted(OTHER_ID, 'other', [builtData({ module_id: OTHER_ID, tag: 'v1.0.0' }).version_id]),
  ];
  const projections = [
    modulesProjection,
    webhookRoutesProjection,
    versionsProjection,
    templatesProjection,
    approvalsProjection,
  ] as CatalogProjection<unknown>[];

  it.each(projections.map((p) => [p.name, p] as const))(
    '%s: folding the same events twice from fresh initial states gives deep-equal states and leaves the events as they were',
    (_name, projection) => {
      const eventsBefore = structuredClone(log);
      const initial = structuredClone(projection.initialState());
      const first = foldEvents(projection, log);
      const second = foldEvents(projection, log);
      expect(second).not.toBe(first);
      expect(second).toEqual(first);
      expect(JSON.parse(JSON.stringify(first))).toEqual(first);
      expect(log).toEqual(eventsBefore);
      expect(projection.initialState()).toEqual(initial);
    },
  );

  it.each(projections.map((p) => [p.name, p] as const))(
    '%s: a state loaded from JSON mid-log folds on to the same state as one never saved',
    (_name, projection) => {
      const saved = JSON.parse(JSON.stringify(foldEvents(projection, log.slice(0, 12)))) as unknown;
      expect(foldEvents(projection, log.slice(12), saved)).toEqual(foldEvents(projection, log));
    },
  );

  it('modules: a view or a page a query returned is not changed by later events', () => {
    const state = foldEvents(modulesProjection, [registered]);
    const view = getModule(state, 'my-redis');
    const page = listModules(state);
    const snapshot = structuredClone({ view, page });
    foldEvents(
      modulesProjection,
      [
        { type: 'ModuleUpdated', data: { module_id: REDIS_ID, name: 'my-redis', changes: { priority: 9 }, updated_at: T1 } },
        assignedTo('base', REDIS_ID, 'my-redis'),
        other,
      ],
      state,
    );
    expect({ view, page }).toEqual(snapshot);
    expect(getModule(state, 'my-redis')).toMatchObject({ priority: 9, assigned_templates: ['base'] });
    expect(listModules(state).items.map((m) => m.name)).toEqual(['my-redis', 'other']);
  });

  it('webhook routes: a route a query returned keeps its secret after a rotation', () => {
    const state = foldEvents(webhookRoutesProjection, [registered]);
    const route = webhookRouteFor(state, registered.data.gitea_repo_full_name)!;
    foldEvents(webhookRoutesProjection, [rotated(REDIS_ID, 'bmV3LXNlY3JldA==')], state);
    expect(route.webhook_secret).toEqual(encryptedSecret);
    expect(webhookRouteFor(state, registered.data.gitea_repo_full_name)?.webhook_secret.ciphertext).toBe('bmV3LXNlY3JldA==');
  });

  it("webhook routes: a repository registered again to another module is left alone by the old module's rotation and deletion", () => {
    const again = moduleRegistered({ module_id: OTHER_ID, name: 'my-redis-2', gitea_repo_full_name: 'ACME/modules/my-redis-module' });
    const state = foldEvents(webhookRoutesProjection, [registered, again, rotated(REDIS_ID, 'c3RhbGU='), deleted(REDIS_ID, 'my-redis')]);
    expect(webhookRouteFor(state, 'acme/modules/my-redis-module')).toMatchObject({ module_id: OTHER_ID, webhook_secret: encryptedSecret });
    expect(state.route_keys_by_module).toEqual({ [OTHER_ID]: ['acme/modules/my-redis-module'] });
    foldEvents(webhookRoutesProjection, [deleted(OTHER_ID, 'my-redis-2')], state);
    expect(state).toEqual(webhookRoutesProjection.initialState());
  });

  it('versions: rows, pages, candidates and ids a query returned are not changed by later events', () => {
    const state = foldEvents(versionsProjection, [registered, built('v0.1.0', T0)]);
    const row = getModuleVersion(state, v1);
    const page = listModuleVersions(state, 'my-redis');
    const candidates = versionCandidates(state, 'my-redis');
    const ids = moduleVersionIds(state, 'my-redis');
    const snapshot = structuredClone({ row, page, candidates, ids });
    const reverified: CatalogEvent = {
      type: 'ModuleVersionReverified',
      data: {
        version_id: v1,
        module_id: REDIS_ID,
        module_name: 'my-redis',
        version_string: '0.1.0',
        oci_digest: digestOf('a'),
        cosign_verified: false,
        signer_identity: null,
        signer_issuer: null,
        verification_reason: 'identity_mismatch: no',
        cosign_identity_regexp: 'x',
        cosign_issuer_regexp: 'y',
        requested_by: 'alice',
        reverified_at: T2,
      },
    };
    foldEvents(versionsProjection, [promoted('staging', 'built'), reverified, built('v0.2.0', T1)], state);
    expect({ row, page, candidates, ids }).toEqual(snapshot);
    expect(getModuleVersion(state, v1)).toMatchObject({ promotion_state: 'staging', cosign_verified: false });
    expect(moduleVersionIds(state, 'my-redis')).toHaveLength(2);
  });

  it("versions: a deletion forgets exactly the deleted module's versions", () => {
    const otherVersion = builtData({ module_id: OTHER_ID, tag: 'v1.0.0' }).version_id;
    const state = foldEvents(versionsProjection, [
      registered,
      other,
      built('v0.1.0', T0),
      built('v1.0.0', T0, { module_id: OTHER_ID, module_name: 'other' }),
      deleted(REDIS_ID, 'my-redis', [v1]),
    ]);
    expect(Object.keys(state.by_module)).toEqual([OTHER_ID]);
    expect(state.module_of_version).toEqual({ [otherVersion]: OTHER_ID });
    expect(state.module_ids_by_name).toEqual({ other: OTHER_ID });
  });

  it('templates: a view, a page and a usage list a query returned are not changed by later events', () => {
    const state = foldEvents(templatesProjection, [templateCreated('base'), assignedTo('base', REDIS_ID, 'my-redis')]);
    const view = getTemplate(state, 't-base');
    const page = listTemplates(state);
    const using = templatesUsingModule(state, 'my-redis');
    const snapshot = structuredClone({ view, page, using });
    foldEvents(
      templatesProjection,
      [assignedTo('base', OTHER_ID, 'other'), templateCreated('edge'), assignedTo('edge', REDIS_ID, 'my-redis'), unassignedFrom('base', REDIS_ID, 'my-redis')],
      state,
    );
    expect({ view, page, using }).toEqual(snapshot);
    expect(getTemplate(state, 't-base').modules).toEqual([{ id: OTHER_ID, name: 'other' }]);
    expect(templatesUsingModule(state, 'my-redis')).toEqual(['edge']);
  });

  it('templates: a deleted module leaves only the templates that listed it, and its index entry with it', () => {
    const state = foldEvents(templatesProjection, [
      templateCreated('base'),
      templateCreated('edge'),
      assignedTo('base', REDIS_ID, 'my-redis'),
      assignedTo('edge', OTHER_ID, 'other'),
      assignedTo('edge', REDIS_ID, 'my-redis'),
      deleted(REDIS_ID, 'my-redis'),
    ]);
    expect(getTemplate(state, 't-base').modules).toEqual([]);
    expect(getTemplate(state, 't-edge').modules).toEqual([{ id: OTHER_ID, name: 'other' }]);
    expect(state.template_ids_by_module).toEqual({ [OTHER_ID]: { 't-edge': true } });
    foldEvents(templatesProjection, [unassignedFrom('edge', OTHER_ID, 'other')], state);
    expect(state.template_ids_by_module).toEqual({});
  });

  it('approvals: an approval or a page a query returned is not changed by later events', () => {
    const state = foldEvents(approvalsProjection, [requested('ap-1')]);
    const approval = getApproval(state, 'ap-1', T0);
    const page = listPendingApprovals(state, T0);
    const snapshot = structuredClone({ approval, page });
    foldEvents(
      approvalsProjection,
      [{ type: 'PromotionApprovalGranted', data: { approval_id: 'ap-1', version_id: v1, approved_by: 'bob', approved_at: T1 } }, requested('ap-2')],
      state,
    );
    expect({ approval, page }).toEqual(snapshot);
    expect(getApproval(state, 'ap-1', T1)).toMatchObject({ status: 'granted', decided_by: 'bob' });
    expect(listPendingApprovals(state, T0).items.map((a) => a.id)).toEqual(['ap-2']);
  });

  it('approvals: a deleted module takes only its own approvals with it', () => {
    const state = foldEvents(approvalsProjection, [requested('ap-1'), requested('ap-2', OTHER_ID), requested('ap-3'), deleted(REDIS_ID, 'my-redis')]);
    expect(Object.keys(state.approvals)).toEqual(['ap-2']);
    expect(state.approval_ids_by_module).toEqual({ [OTHER_ID]: { 'ap-2': true } });
  });

  it('keeps ids that name Object.prototype members as plain keys, through JSON too', () => {
    const odd = moduleRegistered({ module_id: '__proto__', name: 'constructor', gitea_repo_full_name: 'acme/odd' });
    const events: CatalogEvent[] = [odd, built('v0.1.0', T0, { module_id: '__proto__', module_name: 'constructor' })];
    const modules = foldEvents(modulesProjection, events);
    const versions = foldEvents(versionsProjection, events);
    expect(getModule(modules, 'constructor').id).toBe('__proto__');
    expect(Object.getPrototypeOf(modules.modules)).toBe(Object.prototype);
    expect(Object.keys(modules.modules)).toEqual(['__proto__']);
    expect(listModuleVersions(versions, 'constructor').items.map((v) => v.version_string)).toEqual(['0.1.0']);
    expect(JSON.parse(JSON.stringify(versions))).toEqual(versions);
    expect(refusalOf(() => getModule(foldEvents(modulesProjection, [registered]), 'constructor'))).toMatchObject({ code: 'not_found' });
  });
});
