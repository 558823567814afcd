import { randomBytes } from 'node:crypto';
import { readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgentDesiredModule, AgentDesiredState } from '@powernode/contracts';
import { buildModuleArtifact, MODULE_TREE_LAYER_MEDIA_TYPE } from '@powernode/artifact';
import { OCI_MANIFEST_MEDIA_TYPE, OciClient, canonicalJsonBytes, sha256Digest, type ImageManifest } from '@powernode/oci';
import { startRegistry, type ServiceProcess, type TestRegistry, startRegistryGate, type RegistryGate, waitUntil } from '@powernode/testing';
import { startAgentGateway, type AgentGateway } from './agent-gateway.test-support.js';
import { agentEnvironment, logEntries, outputClosed, startAgent, testInstance, waitForLogEntry, type TestInstance } from './agent-process.test-support.js';
import { freshDir, publishModule, writeModuleDir, type PublishedModule } from './module-artifacts.test-support.js';

let registry: TestRegistry;
let workDir: string;
let base: PublishedModule;
let redis: PublishedModule;
const running: ServiceProcess[] = [];
const gateways: AgentGateway[] = [];
const gates: RegistryGate[] = [];
const disposables: Array<{ dispose(): Promise<void> }> = [];

const REDIS_CONF = 'bind 0.0.0.0 ::\nport 6379\nprotected-mode yes\n';

beforeAll(async () => {
  registry = await startRegistry();
  workDir = await freshDir('resilience');
  base = await publishModule(registry.host, workDir, { name: 'base', version: '1.0.0', files: { '/etc/os-release': 'ID=powernode\n' } });
  redis = await publishModule(registry.host, workDir, {
    name: 'my-redis',
    version: '0.1.0',
    files: { '/etc/redis/redis.conf': REDIS_CONF, '/var/lib/redis/.gitkeep': '' },
    init: { start: 'systemctl start redis-server', stop: 'systemctl stop redis-server', restart: 'systemctl restart redis-server' },
  });
  disposables.push(base.built, redis.built);
});

afterAll(async () => {
  for (const agent of running) await agent.kill();
  for (const gateway of gateways) await gateway.stop();
  for (const gate of gates) await gate.stop();
  for (const item of disposables) await item.dispose();
  await registry?.stop();
  await rm(workDir, { recursive: true, force: true });
});

function desiredState(instance: TestInstance, generation: string, modules: AgentDesiredModule[]): AgentDesiredState {
  return { instance_id: instance.instanceId, generation, modules, unresolved: [] };
}

async function setUp(
  label: string,
  registryHost: string,
  modules: AgentDesiredModule[],
): Promise<{ instance: TestInstance; gateway: AgentGateway; env: Record<string, string> }> {
  const instance = testInstance(workDir, label, path.join(workDir, `${label}-cache`));
  const gateway = await startAgentGateway({
    instanceId: instance.instanceId,
    enrolmentToken: instance.enrolmentToken,
    desired: desiredState(instance, '1', modules),
  });
  gateways.push(gateway);
  return { instance, gateway, env: agentEnvironment(instance, gateway.url, registryHost) };
}

function launch(env: Record<string, string>): ServiceProcess {
  const agent = startAgent(env);
  running.push(agent);
  return agent;
}

/** Every complete cache entry must hold exactly the bytes its name promises. */
async function expectCacheIntact(cacheDir: string): Promise<string[]> {
  const dir = path.join(cacheDir, 'blobs/sha256');
  const complete = (await readdir(dir)).filter((name) => /^[0-9a-f]{64}$/.test(name));
  for (const name of complete) expect(sha256Digest(await readFile(path.join(dir, name)))).toBe(`sha256:${name}`);
  return complete;
}

describe('the agent keeps what runs when a new generation cannot be trusted or fetched', () => {
  it('a tree layer altered after the build (same composefs description) ⇒ "fsverity verification failed: <path>", the module is neither started nor reported, the old composition stays', async () => {
    const { instance, gateway, env } = await setUp('tampered-file', registry.host, [base.desired(registry.host, { priority: 1000 })]);
    const agent = launch(env);
    const before = await gateway.waitForHeartbeat((h) => h.generation === '1');

    // An attacker with push rights re-packs the tree with one file changed (same size) and keeps the genuine
    // composefs description and root hash annotation; the new manifest is what the desired state points at.
    const tamperedDir = await writeModuleDir(path.join(workDir, `tampered-${randomBytes(3).toString('hex')}`), {
      ...redis.spec,
      files: { ...redis.spec.files, '/etc/redis/redis.conf': REDIS_CONF.replace('protected-mode yes', 'protected-mode no ') },
    });
    const tampered = await buildModuleArtifact({ dir: tamperedDir, version: '0.1.0', sourceDateEpoch: 1_700_000_000 });
    disposables.push(tampered);
    const tamperedTree = tampered.manifest.layers[0]!;
    const forged: ImageManifest = {
      ...redis.built.manifest,
      layers: redis.built.manifest.layers.map((layer) => (layer.mediaType === MODULE_TREE_LAYER_MEDIA_TYPE ? tamperedTree : layer)),
    };
    const client = new OciClient({ registry: registry.host, insecure: true, retries: 0 });
    await client.uploadBlob(redis.repository, { path: tampered.blobs.get(tamperedTree.digest)!.path });
    const forgedDigest = (await client.putManifest(redis.repository, 'evil', { bytes: canonicalJsonBytes(forged), mediaType: OCI_MANIFEST_MEDIA_TYPE })).digest;

    gateway.setDesired(
      desiredState(instance, '2', [
        base.desired(registry.host, { priority: 1000 }),
        { ...redis.desired(registry.host, { priority: 5000 }), oci_ref: `${registry.host}/${redis.repository}:evil`, oci_digest: forgedDigest },
      ]),
    );
    const refused = await gateway.waitForHeartbeat((h) => h.errors.length > 0);
    expect(refused.errors).toEqual([{ module_name: 'my-redis', message: expect.stringMatching(/^fsverity verification failed: \/etc\/redis\/redis\.conf /) }]);
    expect(refused.generation).toBe('1');
    expect(refused.running_module_digests).toEqual(before.running_module_digests);
    expect(refused.module_states).not.toHaveProperty('my-redis');
    expect(refused.composed_root_hash).toBe(before.composed_root_hash);
    expect(await readlink(path.join(instance.sandboxDir, 'current'))).toBe('roots/1');
    // Nothing of the refused generation was started or left behind (the failure is logged after any start would be).
    await waitForLogEntry(agent, 'reconcile failed; the current composition stays');
    expect(logEntries(agent, (entry) => entry['module_name'] === 'my-redis' && String(entry['msg']).startsWith('init.'))).toEqual([]);
    expect(await readdir(path.join(instance.sandboxDir, 'roots'))).toEqual(['1']);

    // The platform points back at the genuine version: the agent converges.
    gateway.setDesired(desiredState(instance, '3', [base.desired(registry.host, { priority: 1000 }), redis.desired(registry.host, { priority: 5000 })]));
    const healed = await gateway.waitForHeartbeat((h) => h.generation === '3');
    expect(healed.errors).toEqual([]);
    expect(healed.running_module_digests).toEqual({ base: base.built.composefsDigest, 'my-redis': redis.built.composefsDigest });
    // The tutorial's `systemctl start redis-server` has no init system in a module-only root: skipped, still running.
    expect(healed.module_states['my-redis']).toMatch(/^skipped: (systemctl is not in the composed root|no isolation boundary available)/);
    expect(await agent.stop('SIGTERM')).toBe(0);
  });

  it('a blob replaced in the registry storage ⇒ digest_mismatch, the old composition stays', async () => {
    // A module of its own: the registry shares blob storage between repositories.
    const victim = await publishModule(registry.host, workDir, {
      name: 'victim',
      version: '1.0.0',
      files: { '/etc/victim.conf': `${randomBytes(16).toString('hex')}\n` },
    });
    disposables.push(victim.built);
    const { instance, gateway, env } = await setUp('tampered-blob', registry.host, [base.desired(registry.host, { priority: 1000 })]);
    const agent = launch(env);
    const before = await gateway.waitForHeartbeat((h) => h.generation === '1');

    const stored = registry.blobDataPath(victim.treeDigest);
    const bytes = await readFile(stored);
    bytes[700] = bytes[700]! ^ 0xff;
    await writeFile(stored, bytes);
    gateway.setDesired(desiredState(instance, '2', [base.desired(registry.host, { priority: 1000 }), victim.desired(registry.host, { priority: 4000 })]));
    const refused = await gateway.waitForHeartbeat((h) => h.errors.length > 0);
    expect(refused.errors).toEqual([{ module_name: 'victim', message: expect.stringContaining(victim.treeDigest) }]);
    expect(await waitForLogEntry(agent, 'module not usable', (entry) => entry['module_name'] === 'victim')).toMatchObject({ code: 'digest_mismatch' });
    expect(refused.generation).toBe('1');
    expect(refused.running_module_digests).toEqual(before.running_module_digests);
    expect(await readlink(path.join(instance.sandboxDir, 'current'))).toBe('roots/1');
    // The corrupt download never became a cache entry.
    expect(await expectCacheIntact(instance.cacheDir)).not.toContain(victim.treeDigest.slice(7));
    expect(await agent.stop('SIGTERM')).toBe(0);
  });

  it('registry down during a reconcile: the running composition and its heartbeats continue, the pull is retried with backoff and converges once the registry is back', async () => {
    const gate = await startRegistryGate(registry.host);
    gates.push(gate);
    const { instance, gateway, env } = await setUp('registry-down', gate.host, [base.desired(gate.host, { priority: 1000 })]);
    const agent = launch(env);
    const before = await gateway.waitForHeartbeat((h) => h.generation === '1');

    gate.setMode({ kind: 'down' });
    gateway.setDesired(desiredState(instance, '2', [base.desired(gate.host, { priority: 1000 }), redis.desired(gate.host, { priority: 5000 })]));
    const failing = await gateway.waitForHeartbeat((h) => h.errors.length > 0);
    // Every pull fetches the manifest from the registry (a cached copy only tells the cache's GC what a layer belongs to), so both modules report the outage.
    expect(failing.errors.map((error) => error.module_name).sort()).toEqual(['base', 'my-redis']);
    expect(failing.errors[0]!.message).toMatch(/pull manifest/);
    // Several more heartbeats while the registry stays down: still generation 1, still running base.
    const during = await gateway.waitForMoreHeartbeats(4);
    for (const heartbeat of during) {
      expect(heartbeat.generation).toBe('1');
      expect(heartbeat.running_module_digests).toEqual(before.running_module_digests);
      expect(heartbeat.errors.length).toBeGreaterThan(0);
    }
    await waitForLogEntry(agent, 'reconcile failed; the current composition stays', (entry) => (entry['retry_in_ms'] as number) >= 400);
    const retryDelays = logEntries(agent, (entry) => entry['msg'] === 'reconcile failed; the current composition stays').map(
      (entry) => entry['retry_in_ms'] as number,
    );
    expect(retryDelays.slice(0, 3)).toEqual([100, 200, 400]);
    expect(gate.seen.filter((request) => request.action === 'drop').length).toBeGreaterThanOrEqual(2);

    gate.setMode({ kind: 'open' });
    const converged = await gateway.waitForHeartbeat((h) => h.generation === '2');
    expect(converged.errors).toEqual([]);
    expect(converged.running_module_digests).toEqual({ base: base.built.composefsDigest, 'my-redis': redis.built.composefsDigest });
    expect(await agent.stop('SIGTERM')).toBe(0);
  });

  it('a composed root altered while the agent was down is not trusted on restart: it is composed again from verified layers', async () => {
    const { instance, gateway, env } = await setUp('altered-root', registry.host, [
      base.desired(registry.host, { priority: 1000 }),
      redis.desired(registry.host, { priority: 5000 }),
    ]);
    const first = launch(env);
    const before = await gateway.waitForHeartbeat((h) => h.generation === '1');
    expect(await first.stop('SIGTERM')).toBe(0);
    await writeFile(path.join(instance.sandboxDir, 'roots/1/etc/redis/redis.conf'), 'protected-mode no\n');

    const restarted = launch(env);
    await waitForLogEntry(restarted, 'switched to the new root');
    const healed = await gateway.waitForHeartbeat((h) => h.boot_id !== before.boot_id && h.generation === '1' && h.errors.length === 0);
    expect(healed.composed_root_hash).toBe(before.composed_root_hash);
    expect(healed.running_module_digests).toEqual(before.running_module_digests);
    expect(logEntries(restarted, (entry) => String(entry['msg']).startsWith('composed root roots/1 changed since it was composed'))).toHaveLength(1);
    // The altered root was replaced by a fresh one and removed once `current` moved.
    expect(await readlink(path.join(instance.sandboxDir, 'current'))).toBe('roots/1~2');
    expect(await readdir(path.join(instance.sandboxDir, 'roots'))).toEqual(['1~2']);
    expect(await readFile(path.join(instance.sandboxDir, 'current/etc/redis/redis.conf'), 'utf8')).toBe(REDIS_CONF);
    expect(await restarted.stop('SIGTERM')).toBe(0);
  });

  it('a crash after `current` moved but before the state was committed: the restarted agent adopts the root `current` names', async () => {
    const { instance, gateway, env } = await setUp('crash-after-switch', registry.host, [base.desired(registry.host, { priority: 1000 })]);
    const first = launch(env);
    const before = await gateway.waitForHeartbeat((h) => h.generation === '1');
    expect(await first.stop('SIGTERM')).toBe(0);
    // What the state file holds between the switch and the commit: the new composition still pending.
    const statePath = path.join(instance.dataDir, 'agent-state.json');
    const state = JSON.parse(await readFile(statePath, 'utf8')) as { committed: unknown; pending: unknown };
    await writeFile(statePath, JSON.stringify({ version: 1, committed: null, pending: state.committed }));

    const restarted = launch(env);
    await waitForLogEntry(restarted, 'resumed the composed root', (entry) => entry['root'] === 'roots/1');
    const resumed = await gateway.waitForHeartbeat((h) => h.boot_id !== before.boot_id && h.generation === '1');
    expect(resumed.running_module_digests).toEqual(before.running_module_digests);
    expect(await restarted.stop('SIGTERM')).toBe(0);
    await outputClosed(restarted);
    expect(logEntries(restarted, (entry) => entry['msg'] === 'switched to the new root')).toEqual([]);
  });

  it('SIGKILL in the middle of a pull leaves no corrupt cache entry; the restarted agent resumes and converges', async () => {
    const big = await publishModule(registry.host, workDir, { name: 'big', version: '1.0.0', files: { '/opt/big/blob.bin': randomBytes(4 * 1024 * 1024) } });
    disposables.push(big.built);
    const gate = await startRegistryGate(registry.host);
    gates.push(gate);
    gate.setMode({ kind: 'stall_blob', digest: big.treeDigest, afterBytes: 512 * 1024 });
    const { instance, gateway, env } = await setUp('sigkill', gate.host, [
      base.desired(gate.host, { priority: 1000 }),
      big.desired(gate.host, { priority: 3000 }),
    ]);
    const agent = launch(env);
    await gate.stalled();
    const blobDir = path.join(instance.cacheDir, 'blobs/sha256');
    // Half a layer is on disk, under a temporary name only.
    const partials = async (): Promise<string[]> => (await readdir(blobDir)).filter((name) => name.startsWith(`${big.treeDigest.slice(7)}.partial-`));
    await waitUntil('the partial download appearing', async () => (await partials()).length > 0);
    expect(await partials()).toHaveLength(1);
    await agent.kill();
    expect(await readdir(blobDir)).not.toContain(big.treeDigest.slice(7));
    expect(gateway.heartbeats.every((h) => h.generation === null)).toBe(true);

    gate.setMode({ kind: 'open' });
    const restarted = launch(env);
    const converged = await gateway.waitForHeartbeat((h) => h.generation === '1');
    expect(converged.running_module_digests).toEqual({ base: base.built.composefsDigest, big: big.built.composefsDigest });
    expect(gateway.enrolments).toEqual([{ accepted: true }]);
    expect(await expectCacheIntact(instance.cacheDir)).toContain(big.treeDigest.slice(7));
    expect(await readFile(path.join(instance.sandboxDir, 'current/opt/big/blob.bin'))).toHaveLength(4 * 1024 * 1024);
    expect(await restarted.stop('SIGTERM')).toBe(0);
  });
});
