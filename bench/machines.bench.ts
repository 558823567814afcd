// Instances as machines: the tutorial's module built with its Debian packages and run on systemd-nspawn.
//
// 1. build: `powernode module build examples/my-redis` with an empty build cache (base system + package layer
//    captured: cold) and again (cached). Baseline: the cold build. Target: cached < 10 s.
// 2. provision → PONG: from system_provision_instance until `redis-cli ping` run on the instance (REST exec)
//    answers PONG, nspawn driver, layers cached; median of 5 after one cold round. Baseline: provision →
//    running of the same template on the local driver (no machine, nothing answers), same run. Target < 3 s.
// 3. memory: proportional set size (PSS) of one machine (nspawn, its systemd, journald, redis, its agent,
//    everything under it) with base + redis, and of its keeper on the host, read from /proc/<pid>/smaps_rollup.
//    Target < 60 MiB per machine.
// 4. 20 instances on one host: all provisioned at once (4 calls in flight), time until every one answers PONG,
//    and their total PSS.
//
// Needs root, systemd-nspawn and mmdebstrap; says so and skips otherwise.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPlatform, startRegistry, type TestPlatform, type TestRegistry } from '@powernode/testing';
import { MY_REDIS } from '../scripts/demo/example-modules.js';
import { PlatformClient } from '../scripts/demo/platform-client.js';
import { runPowernode } from '../scripts/demo/powernode-cli.js';
import { ensurePrerequisites } from '../scripts/demo/prerequisites.js';
import { ensureModule, promoteVersion, publishNextVersion, type StepContext } from '../scripts/demo/steps.js';

const ROUNDS = 5;
const FLEET = Number(process.env['POWERNODE_BENCH_MACHINES'] ?? 20);
const PONG_TARGET_MS = 3000;
const CACHED_BUILD_TARGET_MS = 10_000;
const PSS_TARGET_BYTES = 60 * 1024 ** 2;

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function benchMachines(report: (line: string) => void): Promise<void> {
  const missing = ['systemd-nspawn', 'mmdebstrap'].filter((program) => spawnSync(program, ['--version']).status !== 0);
  if (process.getuid?.() !== 0 || missing.length > 0) {
    report(`skipped: needs root and ${missing.join(', ') || 'nothing else'} (apt-get install systemd-container mmdebstrap)`);
    return;
  }

  // ---- 1. build ------------------------------------------------------------------------------------------------
  const emptyCache = await mkdtemp(path.join(tmpdir(), 'pn-bench-build-'));
  const out = await mkdtemp(path.join(tmpdir(), 'pn-bench-layout-'));
  try {
    const build = async (cache: string): Promise<number> => {
      const started = performance.now();
      const run = await runPowernode(['module', 'build', MY_REDIS.dir, '--out', out, '--json'], { ...process.env, POWERNODE_BUILD_CACHE: cache });
      if (run.code !== 0) throw new Error(`module build failed: ${run.stderr.trim()}`);
      return performance.now() - started;
    };
    const cold = await build(emptyCache);
    const cached = await build(emptyCache);
    report(`baseline: cold build of my-redis (base system by mmdebstrap + package layer captured): ${(cold / 1000).toFixed(1)} s`);
    report(
      `cached build of my-redis: ${(cached / 1000).toFixed(1)} s; ratio to cold ${(cached / cold).toFixed(3)} — target < ${CACHED_BUILD_TARGET_MS / 1000} s: ${cached < CACHED_BUILD_TARGET_MS ? 'OK' : 'ABOVE TARGET'}`,
    );
  } finally {
    await rm(emptyCache, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  }

  const registry = await startRegistry();
  try {
    // ---- 2. baseline: local driver, provision → running ----------------------------------------------------------
    const baseline = await withPlatform(registry, 'local', async (client, templateId) => {
      await provisionUntil(client, templateId, async (id) => isRunning(client, id));
      const rounds: number[] = [];
      for (let round = 0; round < ROUNDS; round++) rounds.push(await provisionUntil(client, templateId, async (id) => isRunning(client, id)));
      return median(rounds);
    });
    report(`baseline: provision → running with my-redis and its closure, local driver: median ${baseline.toFixed(0)} ms (${ROUNDS} rounds, layers cached)`);

    // ---- 2–4. nspawn: provision → PONG, memory, a fleet ---------------------------------------------------------
    await withPlatform(registry, 'nspawn', async (client, templateId, platform) => {
      const cold = await provisionUntil(client, templateId, async (id) => (await ping(platform, id)) === 'PONG');
      const rounds: number[] = [];
      for (let round = 0; round < ROUNDS; round++) rounds.push(await provisionUntil(client, templateId, async (id) => (await ping(platform, id)) === 'PONG'));
      const pong = median(rounds);
      report(
        `provision → redis-cli ping PONG on the instance, nspawn: median ${pong.toFixed(0)} ms, max ${Math.max(...rounds).toFixed(0)} ms (${ROUNDS} rounds, layers cached), cold first round ${cold.toFixed(0)} ms; ratio to the local baseline ${(pong / baseline).toFixed(2)} — target < ${PONG_TARGET_MS} ms: ${pong < PONG_TARGET_MS ? 'OK' : 'ABOVE TARGET'}`,
      );

      const one = await provisionKeep(client, templateId, platform);
      const machine = machinePss(platform.dataDir, one);
      report(
        `memory of one instance with base + redis: machine ${(machine.machine / 1024 ** 2).toFixed(1)} MiB PSS (${machine.processes} processes, its agent among them: ${(machine.insideAgent / 1024 ** 2).toFixed(1)} MiB), its keeper on the host ${(machine.agent / 1024 ** 2).toFixed(1)} MiB PSS — target < ${PSS_TARGET_BYTES / 1024 ** 2} MiB per machine: ${machine.machine < PSS_TARGET_BYTES ? 'OK' : 'ABOVE TARGET'}`,
      );
      await client.call('system_terminate_instance', { id: one });

      const started = performance.now();
      const ids: string[] = [];
      await inParallel(FLEET, 4, async () => {
        const nodeId = await nodeOf(client, templateId);
        ids.push((await client.call<{ instance: { id: string } }>('system_provision_instance', { node_id: nodeId })).instance.id);
      });
      const answered = new Set<string>();
      while (answered.size < ids.length) {
        if (performance.now() - started > 900_000) throw new Error(`${answered.size}/${ids.length} instances answered PONG within 15 minutes`);
        for (const id of ids) if (!answered.has(id) && (await ping(platform, id)) === 'PONG') answered.add(id);
        await sleep(250);
      }
      const elapsed = performance.now() - started;
      const total = ids
        .map((id) => machinePss(platform.dataDir, id))
        .reduce((sum, m) => ({ machine: sum.machine + m.machine, agent: sum.agent + m.agent }), { machine: 0, agent: 0 });
      report(
        `${FLEET} instances on one host: all answered PONG ${(elapsed / 1000).toFixed(1)} s after the first provision call; machines ${(total.machine / 1024 ** 2).toFixed(0)} MiB PSS in all (${(total.machine / FLEET / 1024 ** 2).toFixed(1)} per machine), keepers ${(total.agent / 1024 ** 2).toFixed(0)} MiB`,
      );
      for (const id of ids) await client.call('system_terminate_instance', { id });
    });
  } finally {
    await registry.stop();
  }
}

/** A platform on `driver` with my-redis and its closure live and assigned to a fresh template; stopped after. */
async function withPlatform<T>(
  registry: TestRegistry,
  driver: 'local' | 'nspawn',
  run: (client: PlatformClient, templateId: string, platform: TestPlatform) => Promise<T>,
): Promise<T> {
  const platform = await startPlatform({
    services: ['catalog', 'ingest', 'provisioner', 'gateway'],
    env: { OCI_REGISTRY: registry.host, POWERNODE_HEARTBEAT_INTERVAL_MS: '300', POWERNODE_HYPERVISOR: driver },
  });
  const client = new PlatformClient(platform.url, platform.adminToken);
  try {
    const ctx: StepContext = {
      client,
      target: { url: platform.url, token: platform.adminToken, registry: registry.host, dataDir: platform.dataDir },
      narrator: { heading: () => undefined, record: () => undefined },
    };
    const issued = await client.call<{ token: string }>('system_create_token', { role: 'approver', name: `bench-approver-${driver}` });
    const approver = { client: client.as(issued.token), label: 'approver' };
    await ensurePrerequisites(ctx, approver);
    const { webhook_secret } = await ensureModule(ctx, MY_REDIS);
    const { version } = await publishNextVersion(ctx, MY_REDIS, webhook_secret);
    for (const to of ['staging', 'blessed', 'live']) await promoteVersion(ctx, version.id, to, approver);
    const { template } = await client.call<{ template: { id: string } }>('system_create_template', { name: `bench-redis-${randomBytes(3).toString('hex')}` });
    await client.call('system_assign_module_to_template', { template_id: template.id, module_name: MY_REDIS.name });
    return await run(client, template.id, platform);
  } catch (error) {
    // Said before the cleanup, whose own failure would hide it.
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    throw error;
  } finally {
    // Terminations finish after their call: a machine still mounted would keep the data dir from being removed.
    await waitForInstancesGone(platform.dataDir, 180_000);
    await platform.stop();
  }
}

async function waitForInstancesGone(dataDir: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const left = (): string[] => {
    try {
      return readdirSync(path.join(dataDir, 'instances'));
    } catch {
      return [];
    }
  };
  while (left().length > 0 && performance.now() < deadline) await sleep(500);
  if (left().length > 0) process.stderr.write(`bench: ${left().length} instance directories still there ${timeoutMs / 1000} s after their terminate\n`);
}

async function nodeOf(client: PlatformClient, templateId: string): Promise<string> {
  const { node } = await client.call<{ node: { id: string } }>('system_create_node', {
    hostname: `bench-m-${randomBytes(4).toString('hex')}`,
    node_template_id: templateId,
  });
  return node.id;
}

async function isRunning(client: PlatformClient, id: string): Promise<boolean> {
  const { instance } = await client.call<{ instance: { status: string; running_module_digests: Record<string, string> } }>('system_get_instance', { id });
  return instance.status === 'running' && instance.running_module_digests[MY_REDIS.name] !== undefined;
}

async function ping(platform: TestPlatform, id: string): Promise<string> {
  const res = await fetch(`${platform.url}/api/v1/system/instances/${id}/exec`, {
    method: 'POST',
    headers: { authorization: `Bearer ${platform.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ argv: ['redis-cli', 'ping'], timeout_ms: 5000 }),
  });
  if (res.status !== 200) return `HTTP ${res.status}`;
  return String(((await res.json()) as { stdout: string }).stdout).trim();
}

/** Milliseconds from the provision call until `ready`; terminates the instance after. */
async function provisionUntil(client: PlatformClient, templateId: string, ready: (id: string) => Promise<boolean>): Promise<number> {
  const nodeId = await nodeOf(client, templateId);
  const started = performance.now();
  const { instance } = await client.call<{ instance: { id: string } }>('system_provision_instance', { node_id: nodeId });
  while (!(await ready(instance.id))) {
    if (performance.now() - started > 300_000) throw new Error(`instance ${instance.id} was not ready within 5 minutes`);
    await sleep(20);
  }
  const elapsed = performance.now() - started;
  await client.call('system_terminate_instance', { id: instance.id });
  return elapsed;
}

async function provisionKeep(client: PlatformClient, templateId: string, platform: TestPlatform): Promise<string> {
  const { instance } = await client.call<{ instance: { id: string } }>('system_provision_instance', { node_id: await nodeOf(client, templateId) });
  while ((await ping(platform, instance.id)) !== 'PONG') await sleep(100);
  return instance.id;
}

function pss(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

/** PSS of an instance's machine (nspawn and every descendant, the agent inside among them) and of its keeper process. */
function machinePss(dataDir: string, instanceId: string): { machine: number; agent: number; insideAgent: number; processes: number } {
  const sandbox = path.join(dataDir, 'instances', instanceId, 'sandbox');
  const nspawn = (JSON.parse(readFileSync(path.join(sandbox, 'machine.json'), 'utf8')) as { pid: number }).pid;
  const agent = (JSON.parse(readFileSync(path.join(dataDir, 'instances', instanceId, 'agent.pid'), 'utf8')) as { pid: number }).pid;
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const tree: number[] = [];
  const walk = (pid: number): void => {
    tree.push(pid);
    for (const child of children.get(pid) ?? []) walk(child);
  };
  walk(nspawn);
  const cmdline = (pid: number): string => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  };
  const insideAgent = tree.filter((pid) => cmdline(pid).includes('/apps/agent/dist/main.js')).reduce((sum, pid) => sum + pss(pid), 0);
  return { machine: tree.reduce((sum, pid) => sum + pss(pid), 0), agent: pss(agent), insideAgent, processes: tree.length };
}

async function inParallel(count: number, width: number, task: () => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) {
        next++;
        await task();
      }
    }),
  );
}
