// Catalog reads and replay.
// Reads: REST `GET /modules/{name}/versions` and MCP `system_list_module_versions` per second against the real
// gateway + catalog processes (SQLite store, private nats-server) holding 1,000 modules and 10,000 versions;
// baseline: `GET /healthz` on the same gateway with the same client (HTTP alone). Target >= 3,000 req/s.
// Measured with ApacheBench (a native client that leaves the CPU to the services) when it is installed, and with
// a Node fetch client in this process; with one gateway process, then with two workers (one per core).
// Replay: folding 100,000 catalog events into the catalog read models, in process and through the running
// catalog's replay command; baseline: reading the same events from the store without folding.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CATALOG_RPC, catalogStreams, moduleVersionIdFor } from '@powernode/contracts';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  busNames,
  foldEvents,
  openEventStore,
  powernodeEventCatalogue,
  RpcClient,
  type EventStore,
  type NatsConnectAuth,
  type NewEvent,
} from '@powernode/events';
import { startPlatform } from '@powernode/testing';
import { abAvailable, measureWithAb } from './ab-load.js';
import { measureRequestsPerSecond } from './http-load.js';
// The projections are the catalog's pure folds; the benchmark reads them from source like the service does.
import { approvalsProjection, modulesProjection, templatesProjection, versionsProjection, webhookRoutesProjection } from '@powernode/catalog-views';

const MODULES = 1000;
const VERSIONS_PER_MODULE = 10;
const REPLAY_EVENTS = 100_000;
const TARGET_RPS = 3000;

type Throughput = { rps: number; p50: number; p99: number; errors: number };
const hex = (n: number, c: string) => `sha256:${(c + n.toString(16)).padEnd(64, '0').slice(0, 64)}`;

async function createModules(url: string, token: string): Promise<{ id: string; name: string }[]> {
  const names = Array.from({ length: MODULES }, (_, i) => `bench-mod-${i}`);
  const out: { id: string; name: string }[] = [];
  for (let i = 0; i < names.length; i += 16) {
    const batch = await Promise.all(
      names.slice(i, i + 16).map(async (name) => {
        const res = await fetch(`${url}/api/v1/system/modules`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            name,
            category: 'userland',
            variety: 'subscription',
            gitea_repo_full_name: `bench/${name}`,
            cosign_identity_regexp: '.*',
            cosign_issuer_regexp: '.*',
          }),
        });
        if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${await res.text()}`);
        return ((await res.json()) as { module: { id: string; name: string } }).module;
      }),
    );
    out.push(...batch);
  }
  return out;
}

function builtEvent(module: { id: string; name: string }, v: number): { stream: string; event: NewEvent } {
  const tag = `v1.0.${v}`;
  const version_id = moduleVersionIdFor(module.id, tag);
  return {
    stream: catalogStreams.moduleVersion(version_id),
    event: {
      type: 'ModuleVersionBuilt',
      actor: 'bench',
      data: {
        version_id,
        module_id: module.id,
        module_name: module.name,
        version_string: tag.slice(1),
        tag,
        oci_ref: `127.0.0.1:5000/bench/${module.name}:${tag}`,
        oci_digest: hex(v, 'a'),
        composefs_digest: hex(v, 'b'),
        fsverity_root_hash: hex(v, 'c'),
        cosign_verified: true,
        signer_identity: 'bench',
        signer_issuer: 'bench',
        sbom_summary: null,
        manifest: { schema_version: 1, name: module.name },
        built_at: new Date().toISOString(),
      },
    },
  };
}

async function appendVersions(store: EventStore, modules: { id: string; name: string }[]): Promise<void> {
  const all = modules.flatMap((m) => Array.from({ length: VERSIONS_PER_MODULE }, (_, v) => builtEvent(m, v)));
  for (let i = 0; i < all.length; i += 50)
    await Promise.all(all.slice(i, i + 50).map(({ stream, event }) => store.append(stream, [event], { expected: 'no_stream' })));
}

/** Promotions staging ↔ built on existing versions until the log holds `total` events. */
async function padWithPromotions(store: EventStore, modules: { id: string; name: string }[], total: number): Promise<void> {
  let head = await store.headPosition();
  let round = 0;
  while (head < total) {
    const batch: Promise<unknown>[] = [];
    for (const m of modules) {
      for (let v = 0; v < VERSIONS_PER_MODULE && head + batch.length < total; v++) {
        const tag = `v1.0.${v}`;
        const version_id = moduleVersionIdFor(m.id, tag);
        const [from, to] = round % 2 === 0 ? ['built', 'staging'] : ['staging', 'built'];
        batch.push(
          store.append(
            catalogStreams.moduleVersion(version_id),
            [
              {
                type: 'ModuleVersionPromoted',
                actor: 'bench',
                data: {
                  version_id,
                  module_id: m.id,
                  module_name: m.name,
                  version_string: tag.slice(1),
                  from,
                  to,
                  promoted_by: 'bench',
                  approval_id: null,
                  promoted_at: new Date().toISOString(),
                },
              },
            ],
            { expected: 'any' },
          ),
        );
        if (batch.length >= 200) {
          await Promise.all(batch.splice(0));
        }
      }
    }
    await Promise.all(batch);
    head = await store.headPosition();
    round++;
  }
}

/**
 * Waits until the catalog's relay has published every event up to `head` to JetStream: until then the catalog
 * and nats-server are busy with the dataset just loaded, and would take CPU from the reads being measured.
 */
async function relayCaughtUp(natsUrl: string, auth: NatsConnectAuth, eventStream: string, head: number): Promise<void> {
  const nc = await connect({ servers: natsUrl, ...auth });
  try {
    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + 120_000;
    while ((await jsm.streams.info(eventStream)).state.last_seq < head) {
      if (Date.now() > deadline) throw new Error(`the relay did not publish up to position ${head} within 120 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await nc.close();
  }
}

export async function benchCatalog(report: (line: string) => void): Promise<void> {
  const platform = await startPlatform({ services: ['catalog', 'gateway'] });
  const store = await openEventStore(`sqlite:${path.join(platform.dataDir, 'events.sqlite')}`, powernodeEventCatalogue());
  try {
    const modules = await createModules(platform.url, platform.adminToken);
    await appendVersions(store, modules);
    const probe = modules[MODULES - 1]!.name;
    for (;;) {
      const res = await fetch(`${platform.url}/api/v1/system/modules/${probe}/versions`, { headers: { authorization: `Bearer ${platform.adminToken}` } });
      if (res.ok && ((await res.json()) as { versions: unknown[] }).versions.length === VERSIONS_PER_MODULE) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await relayCaughtUp(platform.nats.url, platform.natsAuth('gateway'), busNames(platform.namespace).event_stream, await store.headPosition());
    report(`dataset: ${MODULES} modules, ${MODULES * VERSIONS_PER_MODULE} versions (SQLite store, catalog + gateway processes, private nats-server)`);
    const auth = { authorization: `Bearer ${platform.adminToken}` };
    const load = { concurrency: 16, durationMs: 4000 };
    const line = (label: string, r: Throughput, baseline: Throughput) =>
      `${label}: ${r.rps.toFixed(0)} req/s (p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, errors ${r.errors}), ratio to baseline ${(r.rps / baseline.rps).toFixed(2)}${r === baseline ? '' : ` — target >= ${TARGET_RPS}: ${r.rps >= TARGET_RPS ? 'OK' : 'BELOW TARGET'}`}`;
    const reportReads = (baseline: Throughput, rest: Throughput, mcp: Throughput) => {
      report(line('  baseline GET /healthz', baseline, baseline));
      report(line('  REST GET /modules/{name}/versions', rest, baseline));
      report(line('  MCP system_list_module_versions', mcp, baseline));
    };
    const mcpBody = (name: string) =>
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'system_list_module_versions', arguments: { module_name: name } } });
    const mcpHeaders = { ...auth, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

    const haveAb = await abAvailable();
    if (!haveAb) report('ApacheBench (ab) not found (Debian package apache2-utils): only the Node fetch client measures');
    let i = 0;
    const nextName = () => modules[i++ % MODULES]!.name;
    for (const workers of [1, 2]) {
      if (workers > 1) {
        // The same gateway with one worker process per core (POWERNODE_GATEWAY_WORKERS), on the same data.
        await platform.services.get('gateway')!.stop();
        platform.env['POWERNODE_GATEWAY_WORKERS'] = String(workers);
        const gateway = await platform.startService('gateway');
        await gateway.waitForLog(() => gateway.lines.filter((l) => l.includes('gateway listening')).length >= workers, 60_000);
      }
      const setup = `gateway with ${workers} worker process${workers > 1 ? 'es' : ''}`;
      if (haveAb) {
        // ApacheBench asks for one URL; the module read is the last one registered, which holds 10 versions.
        report(`${setup}; client: ApacheBench (ab), ${load.concurrency} keep-alive connections, ${load.durationMs / 1000} s per figure`);
        const baseline = await measureWithAb(`${platform.url}/healthz`, load);
        const rest = await measureWithAb(`${platform.url}/api/v1/system/modules/${probe}/versions`, { ...load, headers: auth });
        const mcp = await measureWithAb(`${platform.url}/mcp`, {
          ...load,
          headers: { authorization: auth.authorization, accept: mcpHeaders.accept },
          postJson: mcpBody(probe),
        });
        reportReads(baseline, rest, mcp);
      }
      // The same figures from a Node fetch client in this process (it competes with the services for the CPU).
      report(
        `${setup}; client: Node fetch in the benchmark process, ${load.concurrency} concurrent requests, ${load.durationMs / 1000} s per figure, modules in turn`,
      );
      const baseline = await measureRequestsPerSecond(() => fetch(`${platform.url}/healthz`), load);
      const rest = await measureRequestsPerSecond(() => fetch(`${platform.url}/api/v1/system/modules/${nextName()}/versions`, { headers: auth }), load);
      const mcp = await measureRequestsPerSecond(() => fetch(`${platform.url}/mcp`, { method: 'POST', headers: mcpHeaders, body: mcpBody(nextName()) }), load);
      reportReads(baseline, rest, mcp);
    }

    await padWithPromotions(store, modules, REPLAY_EVENTS);
    const head = await store.headPosition();
    let t = performance.now();
    const events = [];
    for (let after = 0; after < head;) {
      const batch = await store.readAll({ after_position: after, limit: 10_000 });
      if (batch.length === 0) break;
      events.push(...batch);
      after = batch[batch.length - 1]!.position;
    }
    const readSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    for (const projection of [modulesProjection, webhookRoutesProjection, versionsProjection, templatesProjection, approvalsProjection])
      foldEvents(projection as never, events);
    const foldSeconds = (performance.now() - t) / 1000;
    report(`replay baseline: read ${events.length} events from SQLite in ${readSeconds.toFixed(2)} s (${(events.length / readSeconds).toFixed(0)} events/s)`);
    report(
      `replay fold (5 catalog read models, in process): ${foldSeconds.toFixed(2)} s (${(events.length / foldSeconds).toFixed(0)} events/s), ratio to read ${(readSeconds / foldSeconds).toFixed(2)}`,
    );
    const rpc = await RpcClient.connect(platform.nats.url, { default_timeout_ms: 600_000, namespace: platform.namespace }, platform.natsAuth('operator'));
    t = performance.now();
    await rpc.request(CATALOG_RPC.replay, {});
    const serviceSeconds = (performance.now() - t) / 1000;
    await rpc.close();
    report(`replay through the running catalog (drop + rebuild + save): ${serviceSeconds.toFixed(2)} s for ${head} events`);
  } finally {
    await store.close();
    await platform.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await benchCatalog((line) => console.log(line));
}
