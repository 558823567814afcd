import { catalogStreams, PROJECTION_OWNERS, templateIdFor } from '@powernode/contracts';
import { catalogQueries } from '@powernode/catalog-views';
import { MemoryEventStore, powernodeEventCatalogue } from '@powernode/events';
import { createLogger } from '@powernode/runtime';
import { GatewayReadModels } from './gateway-read-models.js';

const T0 = '2026-05-01T10:00:00.000Z';
const MODULE_ID = '0195f0a0-0000-7000-8000-0000000000aa';

describe('GatewayReadModels', () => {
  let store: MemoryEventStore;
  let readModels: GatewayReadModels;

  beforeEach(async () => {
    store = new MemoryEventStore(powernodeEventCatalogue());
    readModels = new GatewayReadModels(store, createLogger('gateway-test', 'silent'));
    await readModels.start();
  });
  afterEach(() => readModels.stop());

  it('are exactly the projections PROJECTION_OWNERS lists for the gateway (what powernode replay rebuilds)', () => {
    expect(
      readModels
        .all()
        .map((r) => r.name)
        .sort(),
    ).toEqual([...PROJECTION_OWNERS.find((o) => o.service === 'gateway')!.projections].sort());
  });

  it('keep their copies under names of their own, never the catalog service’s', () => {
    const catalogNames = PROJECTION_OWNERS.find((o) => o.service === 'catalog')!.projections as readonly string[];
    for (const runner of readModels.all()) expect(catalogNames).not.toContain(runner.name);
  });

  it('answer catalog queries with what the store holds, including events appended after they started', async () => {
    const template_id = templateIdFor('edge');
    await store.append(
      catalogStreams.template(template_id),
      [{ type: 'TemplateCreated', data: { template_id, name: 'edge', description: 'edge nodes', created_at: T0 } }],
      { expected: 'no_stream' },
    );
    await store.append(
      catalogStreams.module(MODULE_ID),
      [
        {
          type: 'ModuleRegistered',
          data: {
            module_id: MODULE_ID,
            name: 'my-redis',
            display_name: 'Redis',
            description: '',
            category: 'userland',
            variety: 'subscription',
            gitea_repo_full_name: 'acme/modules/my-redis',
            cosign_identity_regexp: '.*',
            cosign_issuer_regexp: '.*',
            approval_policy: 'require_approval',
            spec: { mask: [], file_spec: [], package_spec: [], dependency_spec: [], protected_spec: [], requires: [], provides: [], priority: 0 },
            spec_seeded: false,
            manifest_yaml: null,
            webhook_secret: { algorithm: 'aes-256-gcm', key_id: 'k1', ciphertext: 'c2VhbGVk' },
            registered_at: T0,
          },
        },
      ],
      { expected: 'no_stream' },
    );
    const views = await readModels.freshCatalogViews();
    expect(catalogQueries.getTemplate(views, { template_id: 'edge' }).template).toMatchObject({ id: template_id, name: 'edge', modules: [] });
    expect(catalogQueries.listModules(views, {}).modules.map((m) => m.name)).toEqual(['my-redis']);
    expect(() => catalogQueries.listModuleVersions(views, { module_name: 'my-rediss' })).toThrow(expect.objectContaining({ code: 'not_found' }));
  });
});
