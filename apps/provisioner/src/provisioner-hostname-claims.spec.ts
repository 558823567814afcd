import { catalogStreams, provisionerStreams, templateIdFor } from '@powernode/contracts';
import { ABANDONED_CLAIM_MS, executeCommand, MemoryEventStore, powernodeEventCatalogue, uuidv7 } from '@powernode/events';
import { createLogger } from '@powernode/runtime';
import { nodeRegistryDecider } from './domain/index.js';
import { ProvisionerService, type ProvisionerServiceDeps } from './provisioner-service.js';
import { ProvisionerReadModels } from './read-models.js';

const T0 = Date.parse('2026-05-01T10:00:00.000Z');
const ADMIN = { name: 'admin', role: 'admin' } as never;
const TEMPLATE = templateIdFor('edge');

let store: MemoryEventStore;
let readModels: ProvisionerReadModels;
let service: ProvisionerService;
let now: number;

beforeEach(async () => {
  store = new MemoryEventStore(powernodeEventCatalogue());
  const logger = createLogger('provisioner-test', 'silent');
  await store.append(
    catalogStreams.template(TEMPLATE),
    [{ type: 'TemplateCreated', data: { template_id: TEMPLATE, name: 'edge', description: 'edge nodes', created_at: new Date(T0).toISOString() } }],
    { expected: 'no_stream' },
  );
  readModels = new ProvisionerReadModels(store, logger);
  await readModels.start();
  now = T0;
  // createNode uses the store, the read models and the clock; the other collaborators are never reached.
  const deps = {
    store,
    readModels,
    logger,
    clock: () => new Date(now),
    settings: { enrolmentTtlMs: 60_000, provisionerHost: 'hv-test' },
    driverKind: 'local',
  } as unknown as ProvisionerServiceDeps;
  service = new ProvisionerService(deps);
});
afterEach(() => readModels.stop());

describe('hostname claims left by a crash', () => {
  it('block the hostname while recent, give it up once older than ABANDONED_CLAIM_MS, and a created node keeps its own', async () => {
    const abandoned = uuidv7();
    await executeCommand(
      store,
      provisionerStreams.nodeRegistry(),
      nodeRegistryDecider,
      { type: 'ClaimHostname', node_id: abandoned, hostname: 'edge-1', now: new Date(now).toISOString() },
      { actor: 'admin', correlation_id: 'crashed' },
    );
    now += ABANDONED_CLAIM_MS;
    await expect(service.createNode({ hostname: 'edge-1', node_template_id: 'edge' }, ADMIN, 'c1')).rejects.toMatchObject({
      code: 'already_exists',
      details: { rule: 'hostname_unique', node_id: abandoned },
    });
    now += 1;
    const { node } = await service.createNode({ hostname: 'edge-1', node_template_id: 'edge' }, ADMIN, 'c2');
    expect(node).toMatchObject({ hostname: 'edge-1' });
    now += 100 * ABANDONED_CLAIM_MS;
    await expect(service.createNode({ hostname: 'edge-1', node_template_id: 'edge' }, ADMIN, 'c3')).rejects.toMatchObject({
      code: 'already_exists',
      details: { rule: 'hostname_unique' },
    });
  });
});
