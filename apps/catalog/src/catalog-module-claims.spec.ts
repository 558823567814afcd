import { randomBytes } from 'node:crypto';
import { catalogStreams, type CreateModuleInput } from '@powernode/contracts';
import { ABANDONED_CLAIM_MS, executeCommand, MemoryEventStore, powernodeEventCatalogue, uuidv7 } from '@powernode/events';
import { createLogger } from '@powernode/runtime';
import { CatalogService } from './catalog-service.js';
import { moduleDecider, moduleRegistryDecider } from './domain/index.js';
import { CatalogReadModels } from './read-models.js';
import { SecretBox } from './secrets/secret-box.js';

const T0 = Date.parse('2026-05-01T10:00:00.000Z');
const ADMIN = { name: 'admin', role: 'admin' } as never;

let store: MemoryEventStore;
let readModels: CatalogReadModels;
let service: CatalogService;
let now: number;

beforeEach(async () => {
  store = new MemoryEventStore(powernodeEventCatalogue());
  const logger = createLogger('catalog-test', 'silent');
  readModels = new CatalogReadModels(store, logger);
  await readModels.start();
  now = T0;
  service = new CatalogService(store, readModels, new SecretBox(randomBytes(32)), logger, () => new Date(now));
});
afterEach(() => readModels.stop());

const input = (name: string, repository: string): CreateModuleInput =>
  ({
    name,
    category: 'userland',
    variety: 'subscription',
    gitea_repo_full_name: repository,
    cosign_identity_regexp: 'x',
    cosign_issuer_regexp: 'y',
  }) as CreateModuleInput;

/** What createModule appends first; a crash right after it leaves the claim without a module. */
async function claimThenCrash(name: string, repository: string): Promise<string> {
  const module_id = uuidv7();
  await executeCommand(
    store,
    catalogStreams.moduleRegistry(),
    moduleRegistryDecider,
    { type: 'ClaimModuleIdentity', module_id, name, gitea_repo_full_name: repository, now: new Date(now).toISOString() },
    { actor: 'admin', correlation_id: 'crashed' },
  );
  return module_id;
}

describe('module name claims left by a crash', () => {
  it('keep blocking the name while they are recent, and give it up once older than ABANDONED_CLAIM_MS', async () => {
    const abandoned = await claimThenCrash('redis', 'acme/redis');
    now += ABANDONED_CLAIM_MS;
    await expect(service.createModule(input('redis', 'acme/other'), ADMIN, 'c1')).rejects.toMatchObject({
      code: 'already_exists',
      details: { rule: 'module_name_unique', module_id: abandoned },
    });
    now += 1;
    const created = await service.createModule(input('redis', 'acme/other'), ADMIN, 'c2');
    expect(created.module).toMatchObject({ name: 'redis', gitea_repo_full_name: 'acme/other' });
    expect(created.module.id).not.toBe(abandoned);
    const registry = await store.readStream(catalogStreams.moduleRegistry());
    expect(registry.map((e) => [e.type, (e.data as { module_id: string }).module_id])).toEqual([
      ['ModuleIdentityClaimed', abandoned],
      ['ModuleIdentityReleased', abandoned],
      ['ModuleIdentityClaimed', created.module.id],
    ]);
  });

  it('give up a repository the same way, and both name and repository when two crashed claims hold them', async () => {
    const byName = await claimThenCrash('redis', 'acme/one');
    const byRepository = await claimThenCrash('other', 'acme/redis');
    now += ABANDONED_CLAIM_MS + 1;
    const created = await service.createModule(input('redis', 'acme/redis'), ADMIN, 'c1');
    expect(created.module).toMatchObject({ name: 'redis', gitea_repo_full_name: 'acme/redis' });
    const released = (await store.readStream(catalogStreams.moduleRegistry()))
      .filter((e) => e.type === 'ModuleIdentityReleased')
      .map((e) => (e.data as { module_id: string }).module_id);
    expect(released.sort()).toEqual([byName, byRepository].sort());
  });

  it('give up at once the claim of a module whose deletion a crash kept from releasing it', async () => {
    const deleted = await service.createModule(input('redis', 'acme/redis'), ADMIN, 'c1');
    await executeCommand(
      store,
      catalogStreams.module(deleted.module.id),
      moduleDecider,
      { type: 'DeleteModule', assigned_templates: [], version_ids: [], now: new Date(now).toISOString() },
      { actor: 'admin', correlation_id: 'crashed' },
    );
    const created = await service.createModule(input('redis', 'acme/redis'), ADMIN, 'c2');
    expect(created.module.id).not.toBe(deleted.module.id);
  });

  it('never take over the claim of a registered module, however old', async () => {
    const live = await service.createModule(input('redis', 'acme/redis'), ADMIN, 'c1');
    now += 100 * ABANDONED_CLAIM_MS;
    await expect(service.createModule(input('redis', 'acme/other'), ADMIN, 'c2')).rejects.toMatchObject({
      code: 'already_exists',
      details: { rule: 'module_name_unique', module_id: live.module.id },
    });
    await expect(service.createModule(input('other', 'ACME/Redis'), ADMIN, 'c3')).rejects.toMatchObject({
      code: 'already_exists',
      details: { rule: 'repository_unique', module_id: live.module.id },
    });
    expect((await store.readStream(catalogStreams.moduleRegistry())).filter((e) => e.type === 'ModuleIdentityReleased')).toEqual([]);
  });
});
