import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { catalogStreams, contentDerivedId, provisionerStreams, templateIdFor, type Actor, type AgentHeartbeat } from '@powernode/contracts';
import { executeCommand, openEventStore, powernodeEventCatalogue, type EventStore } from '@powernode/events';
import { createLogger } from '@powernode/runtime';
import { waitUntil } from '@powernode/testing';
import { AgentSessions } from '../src/agent-sessions.js';
import { EnrolmentKeys, sha256Hex } from '../src/agent-secrets.js';
import { instanceDecider } from '../src/domain/index.js';
import { LocalDriver } from '../src/drivers/index.js';
import { HeartbeatSweeper } from '../src/heartbeat-sweeper.js';
import { ReconcileInProcess } from '../src/instance-reactions.js';
import { InstanceReconciler } from '../src/instance-reconciler.js';
import { LivenessTable } from '../src/liveness-table.js';
import { ProvisionerService } from '../src/provisioner-service.js';
import { ProvisionerReadModels } from '../src/read-models.js';
import { STAND_IN_AGENT } from './drivers/local-driver-fixture.js';
import { agentProcessesOf } from './provisioner-platform.js';

/*
 * The reconciler in-process over a real SQLite store and the real local driver, with the state a crash at
 * each step of provisioning leaves behind written down directly: whatever the step, the next pass finishes
 * the job once. A clock the test moves drives the stale sweeper.
 */

const OPERATOR: Actor = { id: 'op', name: 'operator', role: 'operator' };
const INTERVAL_MS = 1000;
const SETTINGS = { gatewayUrl: 'http://127.0.0.1:9', ociRegistry: '127.0.0.1:5000' };

interface World {
  dir: string;
  store: EventStore;
  keys: EnrolmentKeys;
  driver: LocalDriver;
  reconciler: InstanceReconciler;
  service: ProvisionerService;
  agents: AgentSessions;
  sweeper: HeartbeatSweeper;
  nodeId: string;
  advance(ms: number): void;
  statuses(instanceId: string): Promise<string[]>;
  close(): Promise<void>;
}

async function world(agentCommand: string[] = [process.execPath, STAND_IN_AGENT]): Promise<World> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pn-reconciler-'));
  const store = await openEventStore(`sqlite:${path.join(dir, 'events.sqlite')}`, powernodeEventCatalogue());
  const logger = createLogger('provisioner-test', 'silent');
  let now = Date.parse('2026-05-01T10:00:00.000Z');
  const clock = () => new Date(now);
  const readModels = new ProvisionerReadModels(store, logger);
  await readModels.start();
  const keys = EnrolmentKeys.loadOrCreate(dir);
  const driver = new LocalDriver({ dataDir: dir, agentCommand, stopGraceMs: 2000, pollIntervalMs: 50 });
  const liveness = new LivenessTable();
  const reconciler = new InstanceReconciler({
    store,
    driver,
    readModels,
    keys,
    liveness,
    settings: { ...SETTINGS, cacheDir: path.join(dir, 'cache'), provisionerHost: 'hv-test' },
    logger,
    clock,
  });
  const service = new ProvisionerService({
    store,
    readModels,
    reactions: new ReconcileInProcess(reconciler),
    liveness,
    keys,
    driverKind: driver.kind,
    settings: { enrolmentTtlMs: 3_600_000, provisionerHost: 'hv-test' },
    logger,
    clock,
  });
  const agents = new AgentSessions({ store, readModels, liveness, keys, heartbeatIntervalMs: INTERVAL_MS, logger, clock });
  const sweeper = new HeartbeatSweeper({ store, readModels, liveness, reconciler, intervalMs: INTERVAL_MS, logger, clock });
  const templateId = templateIdFor('base');
  await store.append(
    catalogStreams.template(templateId),
    [{ type: 'TemplateCreated', data: { template_id: templateId, name: 'base', description: '', created_at: clock().toISOString() } }],
    { expected: 'no_stream' },
  );
  await readModels.caughtUpWithStore();
  const { node } = await service.createNode({ hostname: 'reconcile-test', node_template_id: templateId }, OPERATOR, 'test');
  return {
    dir,
    store,
    keys,
    driver,
    reconciler,
    service,
    agents,
    sweeper,
    nodeId: node.id,
    advance: (ms) => {
      now += ms;
    },
    statuses: async (id) =>
      (await store.readStream(provisionerStreams.instance(id))).filter((e) => e.type === 'InstanceStatusChanged').map((e) => (e.data as { to: string }).to),
    async close() {
      await driver.close();
      const sweeper = new LocalDriver({ dataDir: dir, agentCommand: [process.execPath, STAND_IN_AGENT], stopGraceMs: 1000 });
      for (const id of await sweeper.list()) await sweeper.destroy(id);
      await sweeper.close();
      await readModels.stop();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** What the provisioner records before it touches the driver: the state a crash right after that leaves. */
async function recordRequestOnly(w: World, instanceId: string): Promise<void> {
  await executeCommand(
    w.store,
    provisionerStreams.instance(instanceId),
    instanceDecider,
    {
      type: 'RequestProvision',
      instance_id: instanceId,
      node_id: w.nodeId,
      node: { hostname: 'reconcile-test', node_template_id: templateIdFor('base') },
      driver: 'local',
      enrolment_token_sha256: sha256Hex(w.keys.enrolmentToken(instanceId)),
      enrolment_expires_at: '2026-05-01T11:00:00.000Z',
      requested_by: 'operator',
      now: '2026-05-01T10:00:00.000Z',
    },
    { actor: 'operator', correlation_id: 'test' },
  );
}

async function recordStatus(w: World, instanceId: string, to: string): Promise<void> {
  await executeCommand(
    w.store,
    provisionerStreams.instance(instanceId),
    instanceDecider,
    { type: 'ChangeStatus', instance_id: instanceId, to, reason: 'test', now: '2026-05-01T10:00:01.000Z' },
    { actor: 'provisioner', correlation_id: 'test' },
  );
}

const specOf = (w: World, instanceId: string) => ({
  instance_id: instanceId,
  hostname: 'reconcile-test',
  enrolment_token: w.keys.enrolmentToken(instanceId),
  ...{ gateway_url: SETTINGS.gatewayUrl, oci_registry: SETTINGS.ociRegistry },
});

function heartbeat(running: Record<string, string> = {}): AgentHeartbeat {
  return {
    running_module_digests: running,
    composed_root_hash: null,
    generation: null,
    errors: [],
    module_states: {},
    services: [],
    address: null,
    integrity: [],
    agent_version: 'stand-in/1',
    boot_id: 'boot-1',
  };
}

let w: World;
afterEach(async () => {
  await w?.close();
});

describe('reconciling after a crash at each provisioning step', () => {
  it('brings up an instance whose request was recorded but never reached the driver', async () => {
    w = await world();
    const id = contentDerivedId('crash-before-create');
    await recordRequestOnly(w, id);
    await w.reconciler.resumeAll('test');
    expect(await w.statuses(id)).toEqual(['provisioning', 'starting']);
    await waitUntil('one agent', () => agentProcessesOf(id).length === 1);
    const pid = await w.driver.agentPid(id);
    // Another pass has nothing left to do.
    await w.reconciler.resumeAll('test');
    expect(await w.statuses(id)).toEqual(['provisioning', 'starting']);
    expect(await w.driver.agentPid(id)).toBe(pid);
  });

  it('finishes an instance the driver created before the crash, with the same enrolment token', async () => {
    w = await world();
    const id = contentDerivedId('crash-after-create');
    await recordRequestOnly(w, id);
    await w.driver.create(specOf(w, id));
    await w.reconciler.resumeAll('test');
    expect(await w.statuses(id)).toEqual(['provisioning', 'starting']);
    await waitUntil('one agent', () => agentProcessesOf(id).length === 1);
  });

  it('does not start a second agent for one started just before the crash', async () => {
    w = await world();
    const id = contentDerivedId('crash-after-start');
    await recordRequestOnly(w, id);
    await recordStatus(w, id, 'provisioning');
    await w.driver.create(specOf(w, id));
    await w.driver.start(id);
    const pid = await w.driver.agentPid(id);
    await w.reconciler.resumeAll('test');
    expect(await w.statuses(id)).toEqual(['provisioning', 'starting']);
    expect(await w.driver.agentPid(id)).toBe(pid);
    expect(agentProcessesOf(id)).toEqual([pid]);
  });

  it('destroys what a terminated instance left in the driver when the destroy was cut short', async () => {
    w = await world();
    const { instance } = await w.service.provisionInstance({ node_id: w.nodeId }, OPERATOR, 'test');
    await waitUntil('the agent', () => agentProcessesOf(instance.id).length === 1);
    await executeCommand(
      w.store,
      provisionerStreams.instance(instance.id),
      instanceDecider,
      { type: 'TerminateInstance', instance_id: instance.id, terminated_by: 'operator', now: '2026-05-01T10:00:02.000Z' },
      { actor: 'operator', correlation_id: 'test' },
    );
    expect(existsSync(w.driver.instanceDir(instance.id))).toBe(true);
    await w.reconciler.sweepTerminated('test');
    expect(existsSync(w.driver.instanceDir(instance.id))).toBe(false);
    expect(agentProcessesOf(instance.id)).toEqual([]);
    expect(await w.driver.list()).toEqual([]);
  });
});

describe('driver failures', () => {
  it('move the instance to error naming the driver step and its message', async () => {
    w = await world(['/nonexistent/powernode-agent']);
    const { instance } = await w.service.provisionInstance({ node_id: w.nodeId }, OPERATOR, 'test');
    expect(instance.status).toBe('error');
    expect(instance.status_reason).toMatch(/^driver start failed: .*cannot start the agent "\/nonexistent\/powernode-agent"/);
    expect(await w.statuses(instance.id)).toEqual(['provisioning', 'error']);
    // Terminating a failed instance works and leaves nothing behind.
    const { instance: gone } = await w.service.terminateInstance(instance.id, OPERATOR, 'test');
    expect(gone.status).toBe('terminated');
    expect(await w.driver.list()).toEqual([]);
  });
});

describe('heartbeats', () => {
  async function runningInstance(): Promise<{ id: string; credential: string }> {
    const { instance } = await w.service.provisionInstance({ node_id: w.nodeId }, OPERATOR, 'test');
    const { credential, heartbeat_interval_ms } = await w.agents.enrol(
      { instance_id: instance.id, enrolment_token: w.keys.enrolmentToken(instance.id) },
      'test',
    );
    expect(heartbeat_interval_ms).toBe(INTERVAL_MS);
    const answer = await w.agents.heartbeat(credential, heartbeat(), 'test');
    expect(answer).toEqual({ ok: true, desired_generation: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect(w.service.getInstance(instance.id).instance.status).toBe('running');
    return { id: instance.id, credential };
  }

  it('record an event only when the report changes; the exact time lives in the liveness table', async () => {
    w = await world();
    const { id, credential } = await runningInstance();
    const count = async () => (await w.store.readStream(provisionerStreams.instance(id))).length;
    const before = await count();
    w.advance(INTERVAL_MS);
    await w.agents.heartbeat(credential, heartbeat(), 'test');
    expect(await count()).toBe(before);
    expect(w.service.getInstance(id).instance.last_heartbeat_at).toBe('2026-05-01T10:00:01.000Z');
    await w.agents.heartbeat(credential, heartbeat({ 'my-redis': `sha256:${'a'.repeat(64)}` }), 'test');
    expect(await count()).toBe(before + 1);
    expect(w.service.getInstance(id).instance.running_module_digests).toEqual({ 'my-redis': `sha256:${'a'.repeat(64)}` });
    // An unchanged report is recorded again once the keep-alive interval (15 min) has passed.
    w.advance(15 * 60_000);
    await w.agents.heartbeat(credential, heartbeat({ 'my-redis': `sha256:${'a'.repeat(64)}` }), 'test');
    expect(await count()).toBe(before + 2);
    await w.agents.heartbeat(credential, heartbeat({ 'my-redis': `sha256:${'a'.repeat(64)}` }), 'test');
    expect(await count()).toBe(before + 2);
  });

  it('mark a running instance stale after three silent intervals, once, and the next report clears it', async () => {
    w = await world();
    const { id, credential } = await runningInstance();
    const staleMarks = async () => (await w.store.readStream(provisionerStreams.instance(id))).filter((e) => e.type === 'InstanceHeartbeatStale').length;
    w.advance(3 * INTERVAL_MS);
    await w.sweeper.sweep();
    expect(await staleMarks()).toBe(0);
    w.advance(1);
    await w.sweeper.sweep();
    await w.sweeper.sweep();
    expect(await staleMarks()).toBe(1);
    expect(w.service.getInstance(id).instance.heartbeat_stale).toBe(true);
    w.advance(INTERVAL_MS);
    await w.agents.heartbeat(credential, heartbeat(), 'test');
    expect(w.service.getInstance(id).instance.heartbeat_stale).toBe(false);
  });

  it('refuse running modules that are not module names, and every call once the instance is terminated', async () => {
    w = await world();
    const { id, credential } = await runningInstance();
    await expect(w.agents.heartbeat(credential, heartbeat({ 'Not A Module': `sha256:${'b'.repeat(64)}` }), 'test')).rejects.toMatchObject({
      code: 'validation_failed',
    });
    await w.service.terminateInstance(id, OPERATOR, 'test');
    await expect(w.agents.heartbeat(credential, heartbeat(), 'test')).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(w.agents.desired(credential)).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(w.agents.enrol({ instance_id: id, enrolment_token: w.keys.enrolmentToken(id) }, 'test')).rejects.toMatchObject({ code: 'unauthenticated' });
  });
});
