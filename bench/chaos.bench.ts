// A long chaos run (the short one is apps/provisioner/test/e2e/provisioner-chaos.spec.ts): the catalog twice (one
// relaying, by lease), two provisioner hosts (the stand-in agent, one node process per instance) and a gateway
// on a cluster of three nats-servers and PostgreSQL. Workers provision instances, wait until they run and
// terminate them, without pause, for POWERNODE_BENCH_CHAOS_SECONDS (default 180). Meanwhile, in turn: the relaying
// catalog, a NATS server, host A's provisioner and host B's provisioner are SIGKILLed and started again.
//
// Reported: events/s sustained over the whole run (store head at the end against the start), operations done and
// failed (a failure is an answer lost to a kill; workers retry as an operator would), and per kind of kill the
// recovery time: from the kill until an instance provisioned after it runs (a fresh provision → running probe,
// alone, polled). Baseline: the same probe before any kill, in the same run. At the end, every event must be in
// the store once and on the stream once, and every instance must have started once.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { busNames, openEventStore, powernodeEventCatalogue } from '@powernode/events';
import { createTestDatabase, startPlatform, type ServiceProcess, type TestPlatform } from '@powernode/testing';
import { LocalDriver } from '../apps/provisioner/src/drivers/index.js';

const SECONDS = Number(process.env['POWERNODE_BENCH_CHAOS_SECONDS'] ?? 180);
const WORKERS = 4;
const PROTOCOL_AGENT = fileURLToPath(new URL('../apps/provisioner/test/fixtures/protocol-agent.mjs', import.meta.url));

type Rest = (method: string, route: string, body?: unknown) => Promise<{ status: number; body: any }>;

export async function benchChaos(report: (line: string) => void): Promise<void> {
  const database = await createTestDatabase('pn_chaos_bench');
  const storeUrl = database.url;
  const dirB = await mkdtemp(path.join(tmpdir(), 'pn-chaos-bench-b-'));
  let platform: TestPlatform | undefined;
  let hostB: ServiceProcess | undefined;
  try {
    platform = await startPlatform({
      services: ['catalog', 'gateway', 'provisioner'],
      natsCluster: true,
      env: {
        EVENT_STORE_URL: storeUrl,
        POWERNODE_AGENT_COMMAND: `'${process.execPath}' '${PROTOCOL_AGENT}'`,
        POWERNODE_HEARTBEAT_INTERVAL_MS: '1000',
        POWERNODE_PROVISIONER_HOST: 'chaos-a',
      },
    });
    const p = platform;
    const startHostB = () => p.startReplica('provisioner', { POWERNODE_PROVISIONER_HOST: 'chaos-b', POWERNODE_DATA_DIR: dirB });
    await p.startReplica('catalog');
    hostB = await startHostB();
    const rest: Rest = async (method, route, body) => {
      const res = await fetch(`${p.url}/api/v1/system${route}`, {
        method,
        headers: { authorization: `Bearer ${p.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    const store = await openEventStore(storeUrl, powernodeEventCatalogue());

    const template = await retry(() => rest('POST', '/templates', { name: `chaos-${randomBytes(3).toString('hex')}` }), 201);
    const templateId = template.template.id as string;
    const node = await retry(() => rest('POST', '/nodes', { hostname: `chaos-${randomBytes(3).toString('hex')}`, node_template_id: templateId }), 201);
    const nodeId = node.node.id as string;

    /** Provision → running → (optionally) terminate; returns ms to running. */
    const cycle = async (terminate: boolean): Promise<number> => {
      const t0 = performance.now();
      const provisioned = await retry(() => rest('POST', `/nodes/${nodeId}/instances`), 201);
      const id = provisioned.instance.id as string;
      await until(async () => (await rest('GET', `/instances/${id}`).catch(() => null))?.body?.instance?.status === 'running', 180_000);
      const ms = performance.now() - t0;
      if (terminate) await retry(() => rest('POST', `/instances/${id}/terminate`), 200);
      return ms;
    };

    const baseline: number[] = [];
    for (let i = 0; i < 3; i++) baseline.push(await cycle(true));
    report(`baseline: provision → running with no fault, median ${median(baseline).toFixed(0)} ms (3 rounds, 2 hosts, heartbeat 1000 ms)`);

    const headAtStart = await store.headPosition();
    const started = performance.now();
    let done = 0;
    let failed = 0;
    const failures: string[] = [];
    let stopping = false;
    const workers = Array.from({ length: WORKERS }, async () => {
      while (!stopping) {
        try {
          await cycle(true);
          done++;
        } catch (error) {
          failed++;
          failures.push((error as Error).message);
        }
      }
    });

    const faults: { kind: string; kill: () => Promise<void>; restore: () => Promise<void> }[] = [
      {
        kind: 'relaying catalog',
        kill: () => p.services.get('catalog')!.kill(),
        restore: async () => void (await p.startService('catalog')),
      },
      { kind: 'NATS server', kill: () => p.cluster!.nodes[0]!.kill(), restore: () => p.cluster!.nodes[0]!.restart() },
      {
        kind: 'provisioner of host A',
        kill: () => p.services.get('provisioner')!.kill(),
        restore: async () => void (await p.startService('provisioner')),
      },
      {
        kind: 'provisioner of host B',
        kill: () => hostB!.kill(),
        restore: async () => {
          hostB = await startHostB();
        },
      },
    ];
    const recoveries: { kind: string; ms: number }[] = [];
    const slot = (SECONDS * 1000) / (faults.length + 1);
    for (const fault of faults) {
      await sleep(slot / 2);
      await fault.kill();
      const killedAt = performance.now();
      // The probe runs while the process is down and after it is back: whatever serves first counts.
      const probe = cycle(true).then(() => performance.now() - killedAt);
      await sleep(1000);
      await fault.restore();
      recoveries.push({ kind: fault.kind, ms: await probe });
      await sleep(Math.max(0, slot / 2 - (performance.now() - killedAt)));
    }
    await sleep(slot / 2);
    stopping = true;
    await Promise.all(workers);
    const seconds = (performance.now() - started) / 1000;
    const headAtEnd = await store.headPosition();

    report(
      `sustained: ${((headAtEnd - headAtStart) / seconds).toFixed(1)} events/s over ${seconds.toFixed(0)} s with ${WORKERS} workers; ${done} provision → running → terminate cycles done, ${failed} failed (each retried its commands for up to 20 s)`,
    );
    if (failures.length > 0) report(`  first failure: ${failures[0]}`);
    for (const { kind, ms } of recoveries) {
      report(
        `recovery after killing the ${kind}: a provision issued at the kill ran ${ms.toFixed(0)} ms later; ratio to baseline ${(ms / median(baseline)).toFixed(2)}`,
      );
    }

    // Exactly once, after all of it.
    const log = await store.readAll({ after_position: 0, limit: 1_000_000 });
    const unique = new Set(log.map((e) => e.id)).size;
    const nc = await connect({ servers: p.env['NATS_URL']!.split(','), ...p.natsAuth('gateway') });
    let onStream = -1;
    try {
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      const deadline = Date.now() + 60_000;
      do {
        onStream = await jsm.streams.info(busNames(p.namespace).event_stream).then(
          (info) => info.state.messages,
          () => -1,
        );
        if (onStream >= log.length) break;
        await sleep(250);
      } while (Date.now() < deadline);
    } finally {
      await nc.close();
    }
    const starts = new Map<string, number>();
    for (const e of log)
      if (e.type === 'InstanceStatusChanged' && (e.data as { to: string }).to === 'starting') starts.set(e.stream, (starts.get(e.stream) ?? 0) + 1);
    const twice = [...starts.values()].filter((n) => n > 1).length;
    report(
      `exactly once: ${log.length} events in the store, ${unique} distinct ids, ${onStream} on the stream; ${starts.size} instances started, ${twice} of them more than once — ${unique === log.length && onStream === log.length && twice === 0 ? 'OK' : 'VIOLATED'}`,
    );
    await store.close();
  } finally {
    await hostB?.kill();
    const dataDir = platform?.dataDir;
    await platform?.stop();
    for (const dir of [dataDir, dirB]) {
      if (dir === undefined) continue;
      const sweeper = new LocalDriver({ dataDir: dir, agentCommand: [process.execPath, PROTOCOL_AGENT], stopGraceMs: 2_000 });
      for (const id of await sweeper.list().catch(() => [])) await sweeper.destroy(id);
      await sweeper.close();
      if ((await readdir(dir).catch(() => null)) !== null) await rm(dir, { recursive: true, force: true });
    }
    await database.drop();
  }
}

/** Retries a command for up to 20 s while the process that should answer it is down or its answer is lost. */
async function retry(attempt: () => Promise<{ status: number; body: any }>, expected: number): Promise<any> {
  const deadline = Date.now() + 20_000;
  let last = 'no answer';
  for (;;) {
    try {
      const res = await attempt();
      if (res.status === expected) return res.body;
      last = `${res.status} ${JSON.stringify(res.body).slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`gave up after 20 s: ${last}`);
    await sleep(250);
  }
}

async function until(probe: () => Promise<boolean>, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${limitMs} ms`);
    await sleep(100);
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
