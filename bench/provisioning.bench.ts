// Provisioning and rollout on the whole platform (catalog, ingest, provisioner and gateway as processes, private
// nats-server, SQLite store, Debian docker-registry) with the local driver running the real agent — one
// node process per instance, as `npm start` runs them. Heartbeat interval 1000 ms.
//
// 1. provision → running: from the system_provision_instance call until the instance is `running` and its
//    running_module_digests lists all 3 modules of its template (the example modules system-base,
//    security-hardening, powernode-base-ruby, published with the real CLI). Median of 5 after one cold round
//    (the cold one pulls from the registry; later ones find the layers in the shared cache). Baseline: the
//    same for an instance of an empty template (agent start, enrolment, first heartbeat), measured in the
//    same run; a no-op tool call round trip is printed for reference. Target: < 3 s.
// 2. fleet convergence: N instances of one template run version 1 of a module; version 2 is promoted to live
//    (require_approval) and the clock starts when the approval is sent; stops when every instance reports the
//    new digest. Baseline: the same with a single instance. N is 100 unless the memory this machine has
//    available would not hold 100 agents (about 90 MB each, measured and printed), then the largest count that
//    fits, stated in the output.
// 3. the same fleet with a second provisioner host started beside the first (its own data directory): the
//    instances spread over both, each host reacting to its own. Baseline: step 2 on one host. Target: no slower.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startPlatform, startRegistry } from '@powernode/testing';
import { LocalDriver } from '../apps/provisioner/src/drivers/index.js';
import { DEV_IDENTITY_REGEXP, DEV_ISSUER_REGEXP, PREREQUISITE_MODULES } from '../scripts/demo/example-modules.js';
import { PlatformClient } from '../scripts/demo/platform-client.js';
import { ensureModule, promoteVersion, publishModule, publishNextVersion, waitForVersion, type StepContext } from '../scripts/demo/steps.js';

const ROUNDS = 5;
const TARGET_MS = 3000;
/** POWERNODE_BENCH_FLEET overrides the fleet size (e.g. a quick run with 10). */
const FLEET_SIZE = Number(process.env['POWERNODE_BENCH_FLEET'] ?? 100);
const HEARTBEAT_MS = 1000;
/** Memory left to the platform, the registry and the rest of the machine while the fleet runs. */
const RESERVE_BYTES = 4 * 1024 ** 3;
/** Per-agent memory assumed before any agent ran (replaced by the measured figure once one has). */
const AGENT_BYTES_GUESS = 90 * 1024 ** 2;

export async function benchProvisioning(report: (line: string) => void): Promise<void> {
  const registry = await startRegistry();
  const platform = await startPlatform({
    services: ['catalog', 'ingest', 'provisioner', 'gateway'],
    env: { OCI_REGISTRY: registry.host, POWERNODE_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS) },
  }).catch(async (error: unknown) => {
    await registry.stop();
    throw error;
  });
  const work = await mkdtemp(path.join(tmpdir(), 'pn-bench-prov-'));
  let secondHostDir: string | undefined;
  const client = new PlatformClient(platform.url, platform.adminToken);
  const ctx: StepContext = {
    client,
    target: { url: platform.url, token: platform.adminToken, registry: registry.host, dataDir: platform.dataDir },
    narrator: { heading: () => undefined, record: () => undefined },
  };
  try {
    const issued = await client.call<{ token: string }>('system_create_token', { role: 'approver', name: 'bench-approver' });
    const approver = { client: client.as(issued.token), label: 'approver' };

    // ---- 1. provision → running -----------------------------------------------------------------------------
    for (const module of PREREQUISITE_MODULES) {
      const { webhook_secret } = await ensureModule(ctx, module);
      const { version } = await publishNextVersion(ctx, module, webhook_secret);
      for (const to of ['staging', 'blessed', 'live']) await promoteVersion(ctx, version.id, to, approver);
    }
    const three = await templateWith(
      client,
      'bench-three',
      PREREQUISITE_MODULES.map((m) => m.name),
    );
    const empty = await templateWith(client, 'bench-empty', []);
    const names = PREREQUISITE_MODULES.map((m) => m.name);
    const cold = await provisionToRunning(client, three, names);
    const withModules: number[] = [];
    const baseline: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      baseline.push(await provisionToRunning(client, empty, []));
      withModules.push(await provisionToRunning(client, three, names));
    }
    const probeNode = await nodeOf(client, empty, 'bench-rpc');
    const rpc: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await client.call('system_get_node', { node_id: probeNode });
      rpc.push(performance.now() - t);
    }
    await terminateAll(client, [platform.dataDir]);
    report(
      `baseline: provision → running, empty template (agent start, enrolment, first heartbeat): median ${median(baseline).toFixed(0)} ms (${ROUNDS} rounds)`,
    );
    report(`reference: no-op tool call round trip (system_get_node: MCP → gateway → NATS → provisioner): median ${median(rpc).toFixed(1)} ms`);
    report(
      `provision → running with 3 modules in running_module_digests: median ${median(withModules).toFixed(0)} ms, max ${Math.max(...withModules).toFixed(0)} ms (${ROUNDS} rounds, layers cached), cold first round ${cold.toFixed(0)} ms; ratio to baseline ${(median(withModules) / median(baseline)).toFixed(2)} — target < ${TARGET_MS} ms: ${median(withModules) < TARGET_MS ? 'OK' : 'ABOVE TARGET'}`,
    );

    // ---- 2. fleet convergence after one promotion to live -----------------------------------------------------
    const single = await fleetConvergence(ctx, approver, work, 'solo', 1, [platform.dataDir]);
    const agentBytes = single.agentBytes ?? AGENT_BYTES_GUESS;
    const fits = Math.max(1, Math.floor((memAvailableBytes() - RESERVE_BYTES) / (agentBytes * 1.2)));
    const size = Math.min(FLEET_SIZE, fits);
    report(
      `agent memory: ${(agentBytes / 1024 ** 2).toFixed(0)} MiB proportional set size per agent${single.agentBytes === null ? ' (assumed)' : ''}; ${(memAvailableBytes() / 1024 ** 3).toFixed(1)} GiB available → fleet of ${size}${size < FLEET_SIZE ? ` (${FLEET_SIZE} would not fit: measured with the largest count that does)` : ''}`,
    );
    const fleet = await fleetConvergence(ctx, approver, work, 'fleet', size, [platform.dataDir], (line) => report(line));
    report(`baseline: one instance converged ${single.last.toFixed(0)} ms after the approval (heartbeat interval ${HEARTBEAT_MS} ms)`);
    report(
      `${size} instances converged after one promotion to live: first ${fleet.first.toFixed(0)} ms, median ${fleet.median.toFixed(0)} ms, all ${fleet.last.toFixed(0)} ms after the approval; ratio to one instance ${(fleet.last / single.last).toFixed(2)} (${size} agents started in ${(fleet.startMs / 1000).toFixed(1)} s)`,
    );

    // ---- 3. the same fleet on two provisioner hosts ---------------------------------------------------------
    // A second host (its own data directory and driver, as a second machine would have) shares provisioning
    // with the first through the provisioner queue; each reacts to its own instances' events.
    secondHostDir = await mkdtemp(path.join(tmpdir(), 'pn-bench-host2-'));
    await platform.startReplica('provisioner', { POWERNODE_PROVISIONER_HOST: 'bench-host-2', POWERNODE_DATA_DIR: secondHostDir });
    const twoHosts = await fleetConvergence(ctx, approver, work, 'two-hosts', size, [platform.dataDir, secondHostDir], (line) => report(line));
    report(
      `${size} instances on 2 provisioner hosts converged after one promotion: first ${twoHosts.first.toFixed(0)} ms, median ${twoHosts.median.toFixed(0)} ms, all ${twoHosts.last.toFixed(0)} ms; ratio to 1 host ${(twoHosts.last / fleet.last).toFixed(2)} — target ≤ 1.00 (no slower): ${twoHosts.last <= fleet.last ? 'OK' : 'SLOWER'} (${size} agents started in ${(twoHosts.startMs / 1000).toFixed(1)} s against ${(fleet.startMs / 1000).toFixed(1)} s on 1 host)`,
    );
  } finally {
    await terminateAll(client).catch(() => undefined);
    await platform.stop();
    for (const dataDir of [platform.dataDir, ...(secondHostDir === undefined ? [] : [secondHostDir])]) {
      const sweeper = new LocalDriver({ dataDir, stopGraceMs: 2_000 });
      for (const id of await sweeper.list()) await sweeper.destroy(id);
      await sweeper.close();
    }
    if (secondHostDir !== undefined) await rm(secondHostDir, { recursive: true, force: true });
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}

async function templateWith(client: PlatformClient, label: string, modules: string[]): Promise<string> {
  const { template } = await client.call<{ template: { id: string } }>('system_create_template', { name: `${label}-${randomBytes(3).toString('hex')}` });
  for (const module_name of modules) await client.call('system_assign_module_to_template', { template_id: template.id, module_name });
  return template.id;
}

async function nodeOf(client: PlatformClient, templateId: string, label: string): Promise<string> {
  const { node } = await client.call<{ node: { id: string } }>('system_create_node', {
    hostname: `${label}-${randomBytes(4).toString('hex')}`,
    node_template_id: templateId,
  });
  return node.id;
}

/** Milliseconds from the provision call until the instance runs every module in `modules`; terminates it after. */
async function provisionToRunning(client: PlatformClient, templateId: string, modules: string[]): Promise<number> {
  const nodeId = await nodeOf(client, templateId, 'bench-prov');
  const started = performance.now();
  const { instance } = await client.call<{ instance: { id: string } }>('system_provision_instance', { node_id: nodeId });
  for (;;) {
    const { instance: view } = await client.call<{ instance: { status: string; running_module_digests: Record<string, string> } }>('system_get_instance', {
      id: instance.id,
    });
    if (view.status === 'running' && modules.every((m) => view.running_module_digests[m] !== undefined)) break;
    if (view.status === 'error' || performance.now() - started > 120_000)
      throw new Error(`instance ${instance.id} did not run ${modules.join(', ')}: ${JSON.stringify(view)}`);
    await sleep(5);
  }
  const elapsed = performance.now() - started;
  await client.call('system_terminate_instance', { id: instance.id });
  return elapsed;
}

/**
 * `size` instances of a one-module template at version 1.0.0; then 1.1.0 promoted to live, approved by the
 * second token: milliseconds from sending the approval until the first, the median and the last instance
 * report the new digest. Terminates the instances after.
 */
async function fleetConvergence(
  ctx: StepContext,
  approver: { client: PlatformClient; label: string },
  work: string,
  label: string,
  size: number,
  dataDirs: string[],
  progress: (line: string) => void = () => undefined,
): Promise<{ first: number; median: number; last: number; startMs: number; agentBytes: number | null }> {
  const { client } = ctx;
  const name = `${label}-probe-${randomBytes(3).toString('hex')}`;
  const repo = `bench/${name}`;
  const { webhook_secret } = await client.call<{ webhook_secret: string }>('system_create_module', {
    name,
    category: 'userland',
    variety: 'subscription',
    gitea_repo_full_name: repo,
    cosign_identity_regexp: DEV_IDENTITY_REGEXP,
    cosign_issuer_regexp: DEV_ISSUER_REGEXP,
  });
  const publish = async (version: string) => {
    const dir = path.join(work, `${name}-${version}`);
    await mkdir(path.join(dir, 'rootfs/etc', name), { recursive: true });
    await writeFile(path.join(dir, 'manifest.yaml'), `schema_version: 1\nname: ${name}\nfile_spec:\n  - "/etc/${name}/**"\n`);
    await writeFile(path.join(dir, 'rootfs/etc', name, 'release'), `${version}\n`);
    await writeFile(path.join(dir, 'rootfs/etc', name, 'payload.bin'), randomBytes(256 * 1024));
    await publishModule(ctx, { dir, repo, tag: `v${version}`, webhookSecret: webhook_secret });
    return waitForVersion(ctx, name, version);
  };
  const v1 = await publish('1.0.0');
  for (const to of ['staging', 'blessed', 'live']) await promoteVersion(ctx, v1.id, to, approver);
  const templateId = await templateWith(client, `bench-${label}`, [name]);
  const nodeId = await nodeOf(client, templateId, `bench-${label}`);

  const startedAt = performance.now();
  let provisioned = 0;
  await inParallel(size, 4, async () => {
    await client.call('system_provision_instance', { node_id: nodeId });
    provisioned++;
    if (provisioned % 25 === 0) progress(`  … ${provisioned}/${size} instances provisioned`);
  });
  await untilAll(client, nodeId, size, (i) => i.status === 'running' && i.running_module_digests[name] === v1.composefs_digest, 600_000);
  const startMs = performance.now() - startedAt;

  const v2 = await publish('1.1.0');
  for (const to of ['staging', 'blessed']) await promoteVersion(ctx, v2.id, to, approver);
  const { approval } = await client.call<{ approval: { id: string } }>('system_promote_module_version', { id: v2.id, to: 'live' });
  const seen = new Map<string, number>();
  const t0 = performance.now();
  await approver.client.call('system_approve_promotion', { approval_id: approval.id });
  await untilAll(
    client,
    nodeId,
    size,
    (i) => {
      if (i.running_module_digests[name] !== v2.composefs_digest) return false;
      if (!seen.has(i.id)) seen.set(i.id, performance.now() - t0);
      return true;
    },
    600_000,
    20,
  );
  const times = [...seen.values()].sort((a, b) => a - b);
  const agentBytes = await agentMemoryPerProcess(dataDirs[0]!);
  await terminateAll(client, dataDirs);
  return { first: times[0]!, median: median(times), last: times[times.length - 1]!, startMs, agentBytes };
}

interface InstanceRow {
  id: string;
  status: string;
  running_module_digests: Record<string, string>;
}

/** Polls the node's instances until `size` of them satisfy `ready` (which sees every instance on every pass). */
async function untilAll(
  client: PlatformClient,
  nodeId: string,
  size: number,
  ready: (i: InstanceRow) => boolean,
  limitMs: number,
  everyMs = 100,
): Promise<void> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    const instances = await listAll(client, nodeId);
    const done = instances.filter(ready).length;
    if (done >= size) return;
    if (performance.now() > deadline)
      throw new Error(`only ${done} of ${size} instances got there: ${JSON.stringify(instances.filter((i) => !ready(i)).slice(0, 3))}`);
    await sleep(everyMs);
  }
}

async function listAll(client: PlatformClient, nodeId: string | undefined): Promise<InstanceRow[]> {
  const all: InstanceRow[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.call<{ instances: InstanceRow[]; next_cursor: string | null }>('system_list_instances', {
      limit: 200,
      ...(nodeId ? { node_id: nodeId } : {}),
      ...(cursor ? { cursor } : {}),
    });
    all.push(...page.instances);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return all;
}

/** Terminates every instance and, given the hosts' data directories, waits until their sandboxes are destroyed. */
async function terminateAll(client: PlatformClient, dataDirs: string[] = []): Promise<void> {
  const instances = await listAll(client, undefined);
  let next = 0;
  await inParallel(instances.length, 8, async () => {
    const instance = instances[next++]!;
    await client.call('system_terminate_instance', { id: instance.id });
  });
  // Each host destroys its sandboxes on the terminate events: the next measurement starts without them.
  const deadline = Date.now() + 300_000;
  const left = async () => (await Promise.all(dataDirs.map((dir) => readdir(path.join(dir, 'instances')).catch(() => [])))).flat().length;
  while ((await left()) > 0 && Date.now() < deadline) await sleep(250);
}

/** Runs `task` `count` times with at most `width` at once. */
async function inParallel(count: number, width: number, task: () => Promise<void>): Promise<void> {
  let started = 0;
  const lane = async () => {
    while (started < count) {
      started++;
      await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, lane));
}

/** Mean proportional set size of the running agents of this data dir, or null when none runs. */
async function agentMemoryPerProcess(dataDir: string): Promise<number | null> {
  const sizes: number[] = [];
  for (const instance of await readdir(path.join(dataDir, 'instances')).catch(() => [] as string[])) {
    try {
      const { pid } = JSON.parse(readFileSync(path.join(dataDir, 'instances', instance, 'agent.pid'), 'utf8')) as { pid: number };
      const pss = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (pss) sizes.push(Number(pss[1]) * 1024);
    } catch {
      // gone meanwhile
    }
  }
  return sizes.length === 0 ? null : sizes.reduce((a, b) => a + b, 0) / sizes.length;
}

function memAvailableBytes(): number {
  const match = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await benchProvisioning((line) => console.log(line));
  process.exit(0);
}
