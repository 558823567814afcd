import { randomBytes } from 'node:crypto';
import { CATALOG_RPC, moduleVersionIdFor } from '@powernode/contracts';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { busNames } from '@powernode/events';
import { createTestDatabase, startServiceProcess, waitUntil, type ServiceProcess, type TestDatabase } from '@powernode/testing';
import type { CatalogVersionView } from '../src/catalog-commands.js';
import {
  ADMIN,
  buildModule,
  createModule,
  FAST_INGEST_ENV,
  pushModule,
  reportBuild,
  signDsse,
  startIngestTestBed,
  versionEvents,
  type IngestTestBed,
  type TestModule,
} from './ingest-test-bed.js';

/*
 * A short chaos run of the supply chain's bus half: two catalogs (one of them relaying, by lease) and two
 * ingests (sharing one durable consumer) on a cluster of three nats-servers and PostgreSQL. While CI publishes
 * versions, the relaying catalog, an ingest and a NATS server are SIGKILLed and started again. Every delivery
 * must end as exactly one ModuleVersionBuilt, every event must be in the store once and on the stream once.
 */
const VERSIONS = 6;

let bed: IngestTestBed;
let database: TestDatabase | undefined;
const processes: ServiceProcess[] = [];

function startIngest(): Promise<ServiceProcess> {
  const proc = startServiceProcess('ingest', { ...bed.platform.env, ...bed.platform.natsEnv('ingest'), ...FAST_INGEST_ENV });
  processes.push(proc);
  return proc.waitForLog((l) => l.includes('ingest ready'), 60_000).then(() => proc);
}

/** A version as the catalog lists it, asked again while a server is down; undefined until it is there. */
async function builtVersion(module: TestModule, tag: string): Promise<CatalogVersionView | undefined> {
  try {
    const { versions } = await bed.rpc.request<{ versions: CatalogVersionView[] }>(CATALOG_RPC.listModuleVersions, {
      actor: ADMIN,
      input: { module_name: module.name },
    });
    return versions.find((v) => v.id === moduleVersionIdFor(module.module_id, tag) && v.cosign_verified);
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  database = await createTestDatabase('pn_chaos');
  bed = await startIngestTestBed({ EVENT_STORE_URL: database.url }, { natsCluster: true });
}, 180_000);

afterAll(async () => {
  for (const p of processes) await p.kill();
  await bed?.stop();
  await database?.drop();
});

it('turns every delivery into exactly one built version while a catalog, an ingest and a NATS server are killed', async () => {
  const secondCatalog = await bed.platform.startReplica('catalog');
  const ingests = [await startIngest(), await startIngest()];
  const module = await createModule(bed, { label: 'chaos' });

  const tags = Array.from({ length: VERSIONS }, (_, i) => `v1.0.${i}`);
  const deliveries: string[] = [];
  for (const [i, tag] of tags.entries()) {
    const built = await buildModule(bed, module.name, tag);
    const pushed = await pushModule(bed, module, tag, built);
    await signDsse(bed, module, pushed, { identity: module.identity });
    // The catalog answering this webhook may be the one just killed: CI retries the same delivery, as it would.
    const delivery = `chaos-${tag}-${randomBytes(4).toString('hex')}`;
    for (let attempt = 1; ; attempt++) {
      try {
        deliveries.push(await reportBuild(bed, module, tag, pushed.ref, delivery));
        break;
      } catch (error) {
        if (attempt === 20) throw error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    if (i === 1) {
      // The first catalog started holds the relay lease: kill it; the second takes over, then it comes back.
      await bed.platform.services.get('catalog')!.kill();
      await bed.platform.startService('catalog');
    }
    if (i === 2) {
      await ingests[0]!.kill();
      ingests[0] = await startIngest();
    }
    if (i === 3) await bed.platform.cluster!.nodes[0]!.kill();
    if (i === 4) await bed.platform.cluster!.nodes[0]!.restart();
  }

  for (const tag of tags) {
    const deadline = Date.now() + 90_000;
    while ((await builtVersion(module, tag)) === undefined) {
      if (Date.now() > deadline) {
        const seen = await bed.rpc
          .request<{ versions: CatalogVersionView[] }>(CATALOG_RPC.listModuleVersions, { actor: ADMIN, input: { module_name: module.name } })
          .catch((e: Error) => e.message);
        const logs = processes.map((p) => p.lines.slice(-8).join('\n')).join('\n---\n');
        throw new Error(`version ${tag} was not built within 90 s; versions: ${JSON.stringify(seen)}\ningest logs:\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  for (const tag of tags) {
    const built = (await versionEvents(bed, module, tag)).filter((e) => e.type === 'ModuleVersionBuilt');
    expect({ tag, built: built.length }).toEqual({ tag, built: 1 });
  }
  const log = await bed.store.readAll({ after_position: 0, limit: 100_000 });
  expect(new Set(log.map((e) => e.id)).size).toBe(log.length);
  const reports = log.filter((e) => e.type === 'ModuleBuildReported');
  expect(reports).toHaveLength(deliveries.length);

  // On the bus too, each event once: relays that took over republished from the checkpoint, JetStream dropped
  // the copies by event id.
  const nc = await connect({ servers: bed.platform.env['NATS_URL']!.split(','), ...bed.platform.natsAuth('gateway') });
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const stream = busNames(bed.platform.namespace).event_stream;
    const head = await bed.store.headPosition();
    const onStream = await waitUntil(
      'the stream to carry the whole log',
      async () => {
        const messages = (await jsm.streams.info(stream)).state.messages;
        return messages >= head ? messages : undefined;
      },
      30_000,
      250,
    );
    expect(onStream).toBe(head);
  } finally {
    await nc.close();
  }
  expect(secondCatalog.child.exitCode).toBeNull();
}, 300_000);
