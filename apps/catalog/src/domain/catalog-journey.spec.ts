import { catalogEventDefinitions, catalogStreams, moduleVersionIdFor, templateIdFor } from '@powernode/contracts';
import { refusalOf } from '@powernode/testing';
import { foldEvents } from '@powernode/events';
import { CatalogJourney } from './catalog-journey.test-support.js';
import { REDIS_MANIFEST_YAML, T0, T1, T2, builtData, digestOf, encryptedSecret, registerCommand } from './catalog-fixtures.test-support.js';
import { moduleRegistryDecider } from './module-registry.decider.js';
import { moduleDecider } from './module.decider.js';
import { moduleVersionDecider, type ApprovalFact } from './module-version.decider.js';
import { promotionApprovalDecider } from './promotion-approval.decider.js';
import { templateDecider } from './template.decider.js';
import { seedTemplateCommands } from './catalog-seed.js';
import {
  assignmentClosureFacts,
  templateComposePreview,
  catalogFactsFromReadModels,
  dependencyView,
  type CatalogProjection,
  getModule,
  listModules,
  modulesProjection,
  webhookRouteFor,
  webhookRoutesProjection,
  getModuleVersion,
  listModuleVersions,
  moduleVersionIds,
  versionsProjection,
  getTemplate,
  listTemplates,
  templatesProjection,
  templatesUsingModule,
  approvalsProjection,
  getApproval,
  listPendingApprovals,
  pendingApprovalForVersion,
} from '@powernode/catalog-views';

const ids = { base: 'mod-system-base', hardening: 'mod-hardening', redis: 'mod-redis', redis2: 'mod-redis-2' };
const projections = [modulesProjection, webhookRoutesProjection, versionsProjection, templatesProjection, approvalsProjection] as CatalogProjection<unknown>[];

/** The tutorial's journey: seed, register, ingest, promote (with approval), assign, preview, delete, re-register. */
function tutorialJourney(): { journey: CatalogJourney; checkpoints: Record<string, number> } {
  const j = new CatalogJourney();
  const checkpoints: Record<string, number> = {};
  for (const command of seedTemplateCommands(T0)) j.run(templateDecider, catalogStreams.template(command.template_id), command);

  const register = (module_id: string, name: string, category: string, manifest?: string) => {
    const repo = `powernode/${name}`;
    j.run(moduleRegistryDecider, catalogStreams.moduleRegistry(), { type: 'ClaimModuleIdentity', module_id, name, gitea_repo_full_name: repo, now: T0 });
    j.run(
      moduleDecider,
      catalogStreams.module(module_id),
      registerCommand({ module_id, name, category, gitea_repo_full_name: repo, manifest_yaml: manifest ?? null }),
    );
  };
  register(ids.base, 'system-base', 'system-base');
  register(ids.hardening, 'security-hardening', 'security-hardening');
  j.run(moduleDecider, catalogStreams.module(ids.base), {
    type: 'UpdateModule',
    changes: { protected_spec: ['/etc/shadow'], file_spec: ['/etc/**'], provides: ['base.os'] },
    now: T0,
  });
  j.run(moduleDecider, catalogStreams.module(ids.hardening), { type: 'UpdateModule', changes: { requires: ['powernode/system-base@^1.0'] }, now: T0 });
  register(ids.redis, 'my-redis', 'userland', REDIS_MANIFEST_YAML);

  const ingest = (module_id: string, module_name: string, tag: string, requires: string[], digestChar: string, at: string) => {
    const build = builtData({
      module_id,
      module_name,
      tag,
      oci_digest: digestOf(digestChar),
      built_at: at,
      manifest: { schema_version: 1, name: module_name, dependencies: { requires } },
    });
    j.run(moduleVersionDecider, catalogStreams.moduleVersion(build.version_id), { type: 'RecordBuild', build });
    return build.version_id;
  };
  const baseV = ingest(ids.base, 'system-base', 'v1.2.0', [], 'a', T0);
  const hardV = ingest(ids.hardening, 'security-hardening', 'v1.0.0', ['powernode/system-base@^1.0'], 'b', T0);
  const redisV = ingest(ids.redis, 'my-redis', 'v0.1.0', ['powernode/system-base@^1.0', 'powernode/security-hardening@^1.0'], 'c', T0);
  ingest(ids.redis, 'my-redis', 'v0.10.0', ['powernode/system-base@^1.0'], 'd', T1);
  ingest(ids.redis, 'my-redis', 'v0.9.0', ['powernode/system-base@^1.0'], 'e', T2);

  const facts = () => {
    const modules = foldEvents(modulesProjection, j.log);
    const versions = foldEvents(versionsProjection, j.log);
    return catalogFactsFromReadModels(modules, versions);
  };
  const promote = (versionId: string, to: string, approval: ApprovalFact | null = null, who = 'alice') =>
    j.run(moduleVersionDecider, catalogStreams.moduleVersion(versionId), {
      type: 'PromoteVersion',
      to,
      requested_by: who,
      approval_policy: 'require_approval',
      dependencies: dependencyView(facts()),
      approval,
      now: T1,
    });

  // my-redis cannot enter staging before its dependencies do.
  checkpoints['redisRefusedStaging'] = refusalOf(() => promote(redisV, 'staging')).code === 'dependency_not_promoted' ? 1 : 0;
  promote(baseV, 'staging');
  promote(hardV, 'staging');
  promote(redisV, 'staging');
  promote(redisV, 'blessed');

  // live needs an approval from someone else.
  const refusal = refusalOf(() => promote(redisV, 'live'));
  checkpoints['liveNeedsApproval'] = refusal.code === 'approval_required' ? 1 : 0;
  j.run(promotionApprovalDecider, catalogStreams.promotionApproval('ap-1'), {
    type: 'RequestPromotionApproval',
    approval_id: 'ap-1',
    version: { version_id: redisV, module_id: ids.redis, module_name: 'my-redis', version_string: '0.1.0' },
    requested_by: 'alice',
    requested_by_id: 'tok-alice',
    now: T1,
  });
  checkpoints['afterRequest'] = j.log.length;
  j.run(promotionApprovalDecider, catalogStreams.promotionApproval('ap-1'), {
    type: 'ApprovePromotion',
    approver: 'carol',
    approver_id: 'tok-carol',
    approver_roles: ['approver'],
    now: T2,
  });
  promote(redisV, 'live', { approval_id: 'ap-1', version_id: redisV, status: 'granted', approved_by: 'carol' }, 'carol');

  // Assign to the base template.
  const baseTemplate = templateIdFor('base');
  for (const name of ['system-base', 'my-redis']) {
    const assignedNow = foldEvents(templatesProjection, j.log).templates[baseTemplate]!.modules.map((m) => m.name);
    const module = getModule(foldEvents(modulesProjection, j.log), name);
    j.run(templateDecider, catalogStreams.template(baseTemplate), {
      type: 'AssignModule',
      module_name: name,
      module: { module_id: module.id, name },
      closure: assignmentClosureFacts(assignedNow, name, facts()),
      now: T2,
    });
  }
  checkpoints['assigned'] = j.log.length;
  return { journey: j, checkpoints };
}

describe('the tutorial journey through deciders and read models', () => {
  const { journey, checkpoints } = tutorialJourney();
  const at = (n: number) => journey.log.slice(0, n);

  it('writes only events the catalogue defines, each valid against its schema', () => {
    const byType = new Map(catalogEventDefinitions.map((d) => [d.type, d]));
    for (const event of journey.log) {
      const definition = byType.get(event.type);
      expect(definition).toBeDefined();
      expect(definition!.schema.safeParse(event.data).success).toBe(true);
    }
  });

  it('refused staging before the dependencies were promoted, and live without approval', () => {
    expect(checkpoints).toMatchObject({ redisRefusedStaging: 1, liveNeedsApproval: 1 });
  });

  it('lists my-redis versions newest first by semver with exactly the contract fields', () => {
    const versions = foldEvents(versionsProjection, journey.log);
    const page = listModuleVersions(versions, 'my-redis');
    expect(page.items.map((v) => [v.version_string, v.promotion_state])).toEqual([
      ['0.10.0', 'built'],
      ['0.9.0', 'built'],
      ['0.1.0', 'live'],
    ]);
    expect(Object.keys(page.items[2]!).sort()).toEqual(
      [
        'id',
        'module_name',
        'version_string',
        'promotion_state',
        'composefs_digest',
        'fsverity_root_hash',
        'oci_ref',
        'oci_digest',
        'cosign_verified',
        'signer_identity',
        'signer_issuer',
        'rejection_reason',
        'created_at',
      ].sort(),
    );
    expect(page.items[2]).toMatchObject({
      id: moduleVersionIdFor(ids.redis, 'v0.1.0'),
      module_name: 'my-redis',
      cosign_verified: true,
      rejection_reason: null,
      oci_digest: digestOf('c'),
    });
    expect(page.next_cursor).toBeNull();
  });

  it('pages versions with an opaque cursor', () => {
    const versions = foldEvents(versionsProjection, journey.log);
    const first = listModuleVersions(versions, 'my-redis', { limit: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = listModuleVersions(versions, 'my-redis', { limit: 2, cursor: first.next_cursor });
    expect(second).toEqual({ items: [expect.objectContaining({ version_string: '0.1.0' })], next_cursor: null });
  });

  it('shows the pending approval until it is granted', () => {
    const pending = foldEvents(approvalsProjection, at(checkpoints['afterRequest']!));
    expect(listPendingApprovals(pending, T1).items).toEqual([
      expect.objectContaining({ id: 'ap-1', status: 'pending', requested_by: 'alice', expires_at: '2026-05-01T15:00:00.000Z' }),
    ]);
    expect(pendingApprovalForVersion(pending, moduleVersionIdFor(ids.redis, 'v0.1.0'), T1)?.id).toBe('ap-1');
    expect(listPendingApprovals(pending, '2026-05-01T15:00:00.000Z').items).toEqual([]);
    expect(getApproval(pending, 'ap-1', '2026-05-01T15:00:00.000Z').status).toBe('expired');
    const after = foldEvents(approvalsProjection, journey.log);
    expect(listPendingApprovals(after, T2).items).toEqual([]);
    expect(getApproval(after, 'ap-1', T2)).toMatchObject({ status: 'granted', decided_by: 'carol' });
  });

  it('lists templates with their modules and modules with their templates', () => {
    const templates = foldEvents(templatesProjection, journey.log);
    expect(listTemplates(templates).items.map((t) => [t.name, t.modules.map((m) => m.name)])).toEqual([
      ['base', ['system-base', 'my-redis']],
      ['hardened', []],
    ]);
    expect(templatesUsingModule(templates, 'my-redis')).toEqual(['base']);
    const modules = foldEvents(modulesProjection, journey.log);
    expect(getModule(modules, 'my-redis')).toMatchObject({
      assigned_templates: ['base'],
      display_name: 'Redis 7.4',
      requires: ['powernode/system-base@^1.0', 'powernode/security-hardening@^1.0'],
    });
    expect(listModules(modules).items.map((m) => m.name)).toEqual(['my-redis', 'security-hardening', 'system-base']);
  });

  it('previews the base template: closure, layers by priority, effective masks, conflicts', () => {
    const facts = catalogFactsFromReadModels(foldEvents(modulesProjection, journey.log), foldEvents(versionsProjection, journey.log));
    const template = getTemplate(foldEvents(templatesProjection, journey.log), templateIdFor('base'));
    const preview = templateComposePreview(
      template.modules.map((m) => m.name),
      facts,
    );
    expect(preview.closure.order).toEqual(['system-base', 'security-hardening', 'my-redis']);
    expect(preview.closure.selected).toEqual({ 'system-base': '1.2.0', 'security-hardening': '1.0.0', 'my-redis': '0.1.0' });
    expect(preview.layers.map((l) => [l.module, l.priority])).toEqual([
      ['system-base', 1000],
      ['security-hardening', 4000],
      ['my-redis', 5000],
    ]);
    expect(preview.layers[0]!.effective_mask).toEqual(['/etc/redis/redis.conf', '/etc/redis/sentinel.conf']);
    expect(preview.layers[2]!.effective_mask).toEqual(['/etc/redis/sentinel.conf', '/etc/shadow']);
    expect(preview.conflicts).toEqual([expect.objectContaining({ kind: 'protected_overlap', claimer: 'my-redis', other: 'system-base' })]);
  });

  it('refuses to delete an assigned module, naming the template; deletes it once unassigned; lets the name be registered again', () => {
    const j = tutorialJourney().journey;
    const templates = () => foldEvents(templatesProjection, j.log);
    const versions = () => foldEvents(versionsProjection, j.log);
    const remove = () =>
      j.run(moduleDecider, catalogStreams.module(ids.redis), {
        type: 'DeleteModule',
        assigned_templates: templatesUsingModule(templates(), 'my-redis'),
        version_ids: moduleVersionIds(versions(), 'my-redis'),
        now: T2,
      });
    expect(refusalOf(remove)).toMatchObject({ code: 'module_assigned', details: { templates: ['base'] } });
    j.run(templateDecider, catalogStreams.template(templateIdFor('base')), { type: 'UnassignModule', module_name: 'my-redis', now: T2 });
    expect(remove()).toEqual([expect.objectContaining({ type: 'ModuleDeleted', data: expect.objectContaining({ versions_deleted: 3 }) })]);
    j.run(moduleRegistryDecider, catalogStreams.moduleRegistry(), { type: 'ReleaseModuleIdentity', module_id: ids.redis, now: T2 });

    expect(() => getModule(foldEvents(modulesProjection, j.log), 'my-redis')).toThrow(expect.objectContaining({ code: 'not_found' }));
    expect(() => listModuleVersions(versions(), 'my-redis')).toThrow(expect.objectContaining({ code: 'not_found' }));
    expect(() => getModuleVersion(versions(), moduleVersionIdFor(ids.redis, 'v0.1.0'))).toThrow(expect.objectContaining({ code: 'not_found' }));

    j.run(moduleRegistryDecider, catalogStreams.moduleRegistry(), {
      type: 'ClaimModuleIdentity',
      module_id: ids.redis2,
      name: 'my-redis',
      gitea_repo_full_name: 'powernode/my-redis',
      now: T2,
    });
    j.run(moduleDecider, catalogStreams.module(ids.redis2), registerCommand({ module_id: ids.redis2, gitea_repo_full_name: 'powernode/my-redis', now: T2 }));
    expect(getModule(foldEvents(modulesProjection, j.log), 'my-redis')).toMatchObject({ id: ids.redis2, assigned_templates: [] });
    expect(listModuleVersions(versions(), 'my-redis').items).toEqual([]);
    expect(webhookRouteFor(foldEvents(webhookRoutesProjection, j.log), 'POWERNODE/my-redis')).toMatchObject({
      module_id: ids.redis2,
      webhook_secret: encryptedSecret,
    });
  });

  it.each(projections.map((p) => [p.name, p] as const))(
    'rebuilds %s by folding the log: incremental, persisted and from-scratch states agree',
    (_name, projection) => {
      let persisted: unknown = projection.initialState();
      let incremental: unknown = projection.initialState();
      for (const event of journey.log) {
        incremental = projection.evolve(incremental, event);
        // What a runner does between batches: save the document as JSON and load it back.
        persisted = JSON.parse(JSON.stringify(projection.evolve(persisted, event)));
      }
      const rebuilt = foldEvents(projection, journey.log);
      expect(rebuilt).toEqual(incremental);
      expect(persisted).toEqual(rebuilt);
      expect(JSON.parse(JSON.stringify(rebuilt))).toEqual(rebuilt);
    },
  );

  it.each(projections.map((p) => [p.name, p] as const))('%s skips events of other contexts', (_name, projection) => {
    const state = foldEvents(projection, journey.log);
    expect(projection.evolve(state, { type: 'InstanceProvisioned', data: { id: 'i-1' } })).toBe(state);
  });

  it('never exposes the webhook secret in the modules read model', () => {
    const text = JSON.stringify(foldEvents(modulesProjection, journey.log));
    expect(text).not.toContain(encryptedSecret.ciphertext);
    expect(text).not.toContain('webhook_secret"');
  });
});
