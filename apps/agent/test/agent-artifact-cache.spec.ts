import { readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AgentDesiredModule, AgentDesiredState } from '@powernode/contracts';
import { sha256Digest } from '@powernode/oci';
import { startRegistry, type ServiceProcess, type TestRegistry, startRegistryGate, type RegistryGate, waitUntil } from '@powernode/testing';
import { startAgentGateway, type AgentGateway } from './agent-gateway.test-support.js';
import { agentEnvironment, logEntries, outputClosed, startAgent, testInstance, waitForLogEntry, type TestInstance } from './agent-process.test-support.js';
import { collectCacheLikeTheProvisioner } from './artifact-cache-collection.test-support.js';
import { freshDir, publishModule, type PublishedModule } from './module-artifacts.test-support.js';

let registry: TestRegistry;
let workDir: string;
let base: PublishedModule;
let appV1: PublishedModule;
let appV2: PublishedModule;
const running: ServiceProcess[] = [];
const gateways: AgentGateway[] = [];
const gates: RegistryGate[] = [];

beforeAll(async () => {
  registry = await startRegistry();
  workDir = await freshDir('cache');
  base = await publishModule(registry.host, workDir, {
    name: 'base',
    version: '1.0.0',
    files: { '/etc/os-release': 'ID=powernode\n', '/etc/base.conf': 'base\n' },
  });
  appV1 = await publishModule(registry.host, workDir, {
    name: 'app',
    version: '1.0.0',
    files: { '/etc/app/app.conf': 'v1\n', '/opt/app/data.bin': Buffer.alloc(256 * 1024, 1) },
  });
  appV2 = await publishModule(registry.host, workDir, { name: 'app', version: '2.0.0', files: { '/etc/app/app.conf': 'v2\n' } });
});

afterAll(async () => {
  for (const agent of running) await agent.kill();
  for (const gateway of gateways) await gateway.stop();
  for (const gate of gates) await gate.stop();
  for (const module of [base, appV1, appV2]) await module?.built.dispose();
  await registry?.stop();
  await rm(workDir, { recursive: true, force: true });
});

function desiredState(instance: TestInstance, generation: string, modules: AgentDesiredModule[]): AgentDesiredState {
  return { instance_id: instance.instanceId, generation, modules, unresolved: [] };
}

/** An instance with its own cache, its gateway, and a gate in front of the registry that counts what is pulled. */
async function setUp(
  label: string,
  modules: (registryHost: string) => AgentDesiredModule[],
): Promise<{ instance: TestInstance; gateway: AgentGateway; gate: RegistryGate; env: Record<string, string> }> {
  const gate = await startRegistryGate(registry.host);
  gates.push(gate);
  const instance = testInstance(workDir, label, path.join(workDir, `${label}-cache`));
  const gateway = await startAgentGateway({
    instanceId: instance.instanceId,
    enrolmentToken: instance.enrolmentToken,
    desired: desiredState(instance, '1', modules(gate.host)),
  });
  gateways.push(gateway);
  // Retries let a download the gate broke off resume once the gate opens.
  return { instance, gateway, gate, env: agentEnvironment(instance, gateway.url, gate.host, { POWERNODE_AGENT_OCI_RETRIES: '2' }) };
}

function launch(env: Record<string, string>): ServiceProcess {
  const agent = startAgent(env);
  running.push(agent);
  return agent;
}

function entryPath(cacheDir: string, digest: string): string {
  return path.join(cacheDir, 'blobs/sha256', digest.slice('sha256:'.length));
}

async function cachedEntries(cacheDir: string): Promise<string[]> {
  return (await readdir(path.join(cacheDir, 'blobs/sha256'))).sort();
}

/** Every complete entry holds the bytes its name promises; returns their digests. */
async function intactEntries(cacheDir: string): Promise<string[]> {
  const digests: string[] = [];
  for (const name of await cachedEntries(cacheDir)) {
    if (!/^[0-9a-f]{64}$/.test(name)) continue;
    expect(sha256Digest(await readFile(path.join(cacheDir, 'blobs/sha256', name)))).toBe(`sha256:${name}`);
    digests.push(`sha256:${name}`);
  }
  return digests;
}

/** How many times the blob was requested through the gate. */
function blobPulls(gate: RegistryGate, digest: string): number {
  return gate.seen.filter((request) => request.method === 'GET' && request.url.endsWith(`/blobs/${digest}`)).length;
}

function roots(...modules: PublishedModule[]): string[] {
  return modules.flatMap((module) => [module.built.manifestDigest, module.built.composefsDigest]);
}

describe('the agent keeps its artifacts collectable in the shared cache', () => {
  it('stores the verified manifest under its oci_digest before the tree layer it lists, atomically', async () => {
    const { instance, gateway, gate, env } = await setUp('manifest-first', (host) => [
      appV1.desired(host, { priority: 5000 }),
      base.desired(host, { priority: 1000 }),
    ]);
    gate.setMode({ kind: 'stall_blob', digest: appV1.treeDigest, afterBytes: 64 * 1024 });
    const agent = launch(env);
    await gate.stalled();

    // Mid-download of app's tree layer: its manifest is already a complete entry, the layer only a partial file.
    const manifestFile = entryPath(instance.cacheDir, appV1.built.manifestDigest);
    expect(await readFile(manifestFile)).toEqual(appV1.built.manifestBytes);
    expect((await stat(manifestFile)).mode & 0o777).toBe(0o644);
    const entries = await cachedEntries(instance.cacheDir);
    expect(entries).not.toContain(appV1.treeDigest.slice(7));
    expect(entries.filter((name) => name.startsWith(`${appV1.treeDigest.slice(7)}.partial-`))).toHaveLength(1);

    gate.setMode({ kind: 'open' });
    const heartbeat = await gateway.waitForHeartbeat((h) => h.generation === '1');
    expect(heartbeat.errors).toEqual([]);
    expect(heartbeat.running_module_digests).toEqual({ base: base.built.composefsDigest, app: appV1.built.composefsDigest });
    // Manifest and tree layer of each module, nothing else (no temporary file left behind).
    expect(await cachedEntries(instance.cacheDir)).toEqual(
      [base.built.manifestDigest, base.treeDigest, appV1.built.manifestDigest, appV1.treeDigest].map((d) => d.slice(7)).sort(),
    );
    expect((await intactEntries(instance.cacheDir)).sort()).toEqual(
      [base.built.manifestDigest, base.treeDigest, appV1.built.manifestDigest, appV1.treeDigest].sort(),
    );
    expect(await readFile(entryPath(instance.cacheDir, base.built.manifestDigest))).toEqual(base.built.manifestBytes);
    expect(await agent.stop('SIGTERM')).toBe(0);
  });

  it('a collection after a generation change deletes exactly the superseded version; the agent keeps running and pulls it again when it is wanted back', async () => {
    const { instance, gateway, gate, env } = await setUp('collected', (host) => [
      base.desired(host, { priority: 1000 }),
      appV1.desired(host, { priority: 5000 }),
    ]);
    const agent = launch(env);
    await gateway.waitForHeartbeat((h) => h.generation === '1');
    gateway.setDesired(desiredState(instance, '2', [base.desired(gate.host, { priority: 1000 }), appV2.desired(gate.host, { priority: 5000 })]));
    const second = await gateway.waitForHeartbeat((h) => h.generation === '2');
    expect(second.running_module_digests).toEqual({ base: base.built.composefsDigest, app: appV2.built.composefsDigest });

    // What the provisioner would keep: the manifests and composefs digests this instance desires and runs.
    const collection = await collectCacheLikeTheProvisioner(instance.cacheDir, roots(base, appV2));
    expect(collection.deleted).toEqual([appV1.built.manifestDigest, appV1.treeDigest].sort());
    expect(collection.kept).toEqual([base.built.manifestDigest, base.treeDigest, appV2.built.manifestDigest, appV2.treeDigest].sort());
    expect((await intactEntries(instance.cacheDir)).sort()).toEqual(collection.kept);

    // The running composition does not need the cache: heartbeats go on unchanged and without errors.
    for (const heartbeat of await gateway.waitForMoreHeartbeats(3)) {
      expect(heartbeat.generation).toBe('2');
      expect(heartbeat.errors).toEqual([]);
      expect(heartbeat.running_module_digests).toEqual(second.running_module_digests);
    }
    // A collection with nothing left to collect deletes nothing.
    expect((await collectCacheLikeTheProvisioner(instance.cacheDir, roots(base, appV2))).deleted).toEqual([]);

    // Back to app v1: its manifest and layer are pulled and verified again.
    expect(blobPulls(gate, appV1.treeDigest)).toBe(1);
    gateway.setDesired(desiredState(instance, '3', [base.desired(gate.host, { priority: 1000 }), appV1.desired(gate.host, { priority: 5000 })]));
    const third = await gateway.waitForHeartbeat((h) => h.generation === '3');
    expect(third.errors).toEqual([]);
    expect(third.running_module_digests).toEqual({ base: base.built.composefsDigest, app: appV1.built.composefsDigest });
    expect(blobPulls(gate, appV1.treeDigest)).toBe(2);
    expect(blobPulls(gate, base.treeDigest)).toBe(1);
    expect(await readFile(path.join(instance.sandboxDir, 'current/etc/app/app.conf'), 'utf8')).toBe('v1\n');
    expect(await intactEntries(instance.cacheDir)).toEqual(expect.arrayContaining([appV1.built.manifestDigest, appV1.treeDigest]));
    // Now app v2 is the superseded one.
    expect((await collectCacheLikeTheProvisioner(instance.cacheDir, roots(base, appV1))).deleted).toEqual(
      [appV2.built.manifestDigest, appV2.treeDigest].sort(),
    );
    expect(await agent.stop('SIGTERM')).toBe(0);
  });

  it('a tree layer and manifest deleted from the cache between reconciles are pulled again and verified on the next generation', async () => {
    const { instance, gateway, gate, env } = await setUp('deleted', (host) => [
      base.desired(host, { priority: 1000 }),
      appV1.desired(host, { priority: 5000 }),
    ]);
    const agent = launch(env);
    await gateway.waitForHeartbeat((h) => h.generation === '1');
    await rm(entryPath(instance.cacheDir, base.treeDigest));
    await rm(entryPath(instance.cacheDir, base.built.manifestDigest));

    gateway.setDesired(desiredState(instance, '2', [base.desired(gate.host, { priority: 1000 }), appV2.desired(gate.host, { priority: 5000 })]));
    const second = await gateway.waitForHeartbeat((h) => h.generation === '2');
    expect(second.errors).toEqual([]);
    expect(second.running_module_digests).toEqual({ base: base.built.composefsDigest, app: appV2.built.composefsDigest });
    expect(blobPulls(gate, base.treeDigest)).toBe(2);
    expect(await readFile(entryPath(instance.cacheDir, base.built.manifestDigest))).toEqual(base.built.manifestBytes);
    expect(await intactEntries(instance.cacheDir)).toEqual(expect.arrayContaining([base.treeDigest, base.built.manifestDigest]));
    expect(await readFile(path.join(instance.sandboxDir, 'current/etc/base.conf'), 'utf8')).toBe('base\n');
    expect(await agent.stop('SIGTERM')).toBe(0);
  });

  it('a tree layer deleted after its pull but before the composition is pulled again within the same reconcile', async () => {
    // base is pulled first, then app's layer stalls: base's verified layer is removed while the agent waits.
    const { instance, gateway, gate, env } = await setUp('vanished', (host) => [
      base.desired(host, { priority: 1000 }),
      appV1.desired(host, { priority: 5000 }),
    ]);
    gate.setMode({ kind: 'stall_blob', digest: appV1.treeDigest, afterBytes: 64 * 1024 });
    const agent = launch(env);
    await gate.stalled();
    await waitUntil('base tree layer in the cache', async () => (await cachedEntries(instance.cacheDir)).includes(base.treeDigest.slice(7)));
    await rm(entryPath(instance.cacheDir, base.treeDigest));
    gate.setMode({ kind: 'open' });

    const heartbeat = await gateway.waitForHeartbeat((h) => h.generation === '1');
    expect(heartbeat.errors).toEqual([]);
    expect(heartbeat.running_module_digests).toEqual({ base: base.built.composefsDigest, app: appV1.built.composefsDigest });
    const warned = await waitForLogEntry(agent, 'a cached layer disappeared before it was composed; pulling it again');
    expect(warned).toMatchObject({ module_name: 'base', blob: base.treeDigest });
    expect(blobPulls(gate, base.treeDigest)).toBe(2);
    expect(await intactEntries(instance.cacheDir)).toEqual(expect.arrayContaining([base.treeDigest, base.built.manifestDigest]));
    expect(await readFile(path.join(instance.sandboxDir, 'current/etc/base.conf'), 'utf8')).toBe('base\n');
    expect(await agent.stop('SIGTERM')).toBe(0);
    await outputClosed(agent);
    // Repaired in place: the generation never failed.
    expect(logEntries(agent, (entry) => entry['msg'] === 'reconcile failed; the current composition stays')).toEqual([]);
  });
});
