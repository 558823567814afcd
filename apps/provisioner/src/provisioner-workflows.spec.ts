import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import {
  catalogStreams,
  PowernodeError,
  PROVISIONER_RPCS,
  provisionerStreams,
  type Actor,
  type CatalogEvent,
  type ErrorBody,
  type InstanceExecEnd,
} from '@powernode/contracts';
import { MemoryEventStore, powernodeEventCatalogue, uuidv7, type EventEnvelope, type RpcTransportHandler } from '@powernode/events';
import { createLogger } from '@powernode/runtime';
import { AgentSessions } from './agent-sessions.js';
import { EnrolmentKeys, sha256Hex } from './agent-secrets.js';
import { DEFAULT_HEARTBEAT_KEEPALIVE_MS } from './domain/index.js';
import { assigned, composefsOf, LATER, moduleRegistered, promotedTo, templateCreated, versionBuilt } from './domain/provisioner-fixtures.test-support.js';
import type { AdoptOutcome, DriverInstanceStatus, HypervisorDriver, InstanceHandle, InstanceSpec } from './drivers/index.js';
import { HeartbeatSweeper } from './heartbeat-sweeper.js';
import { InstanceConsoleService } from './instance-console-service.js';
import { InstanceExecService } from './instance-exec-service.js';
import { ReconcileInProcess } from './instance-reactions.js';
import { InstanceReconciler } from './instance-reconciler.js';
import { LivenessTable } from './liveness-table.js';
import { provisionerRpcHandlers, type ProvisionerRpcDeps } from './provisioner-rpc-handlers.js';
import { ProvisionerService } from './provisioner-service.js';
import { ProvisionerReadModels } from './read-models.js';

/*
 * The provisioner's workflows in process: the service, the agent sessions and the reconciler on the memory
 * store, driven through the same handler table the NATS transport serves, with a hypervisor driver that only
 * records what it is asked. No bus, no child process, no network. The catalog's side is given as the events
 * the catalog appends; each step names the events it appended and the driver calls it made, and a refusal
 * names its code and appends nothing.
 */

const OPERATOR: Actor = { id: 'tok-op', name: 'operator', role: 'operator' };
const HEARTBEAT_INTERVAL_MS = 1000;

/** A driver that holds instances in a map and records every call; `failing` makes one operation throw. */
class RecordingDriver implements HypervisorDriver {
  readonly kind = 'local';
  readonly calls: string[] = [];
  readonly specs = new Map<string, InstanceSpec>();
  private readonly running = new Set<string>();
  failing: { operation: string; message: string } | null = null;

  private record(operation: string, instanceId: string): void {
    this.calls.push(`${operation} ${instanceId}`);
    if (this.failing?.operation === operation) throw new Error(this.failing.message);
  }

  async create(spec: InstanceSpec): Promise<InstanceHandle> {
    this.record('create', spec.instance_id);
    this.specs.set(spec.instance_id, spec);
    return { instance_id: spec.instance_id, driver: this.kind, location: `memory:${spec.instance_id}` };
  }

  async start(instanceId: string): Promise<void> {
    this.record('start', instanceId);
    if (!this.specs.has(instanceId)) throw new PowernodeError('not_found', `no instance ${instanceId}`);
    this.running.add(instanceId);
  }

  async stop(instanceId: string): Promise<void> {
    this.record('stop', instanceId);
    this.running.delete(instanceId);
  }

  async destroy(instanceId: string): Promise<void> {
    this.record('destroy', instanceId);
    this.running.delete(instanceId);
    this.specs.delete(instanceId);
  }

  async status(instanceId: string): Promise<DriverInstanceStatus> {
    return this.running.has(instanceId) ? 'running' : this.specs.has(instanceId) ? 'stopped' : 'absent';
  }

  async list(): Promise<string[]> {
    return [...this.specs.keys()].sort();
  }

  async adopt(instanceId: string): Promise<AdoptOutcome> {
    this.record('adopt', instanceId);
    if (!this.specs.has(instanceId)) throw new PowernodeError('not_found', `no instance ${instanceId}`);
    return { outcome: 'adopted', instance_id: instanceId };
  }

  async exec(instanceId: string): Promise<InstanceExecEnd> {
    this.record('exec', instanceId);
    return { exit_code: 0, timed_out: false, duration_ms: 0 } as InstanceExecEnd;
  }

  async close(): Promise<void> {}
}

let store: MemoryEventStore;
let readModels: ProvisionerReadModels;
let driver: RecordingDriver;
let handlers: Map<string, RpcTransportHandler>;
let sweeper: HeartbeatSweeper;
let now: number;

beforeEach(async () => {
  store = new MemoryEventStore(powernodeEventCatalogue());
  const logger = createLogger('provisioner-test', 'silent');
  readModels = new ProvisionerReadModels(store, logger);
  await readModels.start();
  now = Date.parse(LATER);
  const clock = () => new Date(now);
  driver = new RecordingDriver();
  const keys = EnrolmentKeys.fromKey(randomBytes(32));
  const liveness = new LivenessTable();
  // A cache directory that does not exist: collecting it after a terminate finds nothing to delete.
  const cacheDir = path.join(os.tmpdir(), `powernode-absent-cache-${uuidv7()}`);
  const reconciler = new InstanceReconciler({
    store,
    driver,
    readModels,
    keys,
    liveness,
    settings: { gatewayUrl: 'http://127.0.0.1:9', ociRegistry: '127.0.0.1:5000', cacheDir, provisionerHost: 'hv-test' },
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
  const agents = new AgentSessions({ store, readModels, liveness, keys, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, logger, clock });
  const exec = new InstanceExecService({ store, driver, logger });
  // Swept by hand: its timer is never started.
  sweeper = new HeartbeatSweeper({ store, readModels, liveness, reconciler, intervalMs: HEARTBEAT_INTERVAL_MS, logger, clock });
  // Only the streamed exec publishes on NATS, and it is not driven here.
  const consoles = new InstanceConsoleService({ store, driver });
  handlers = provisionerRpcHandlers({ service, exec, consoles, agents, readModels, nats: undefined as unknown as ProvisionerRpcDeps['nats'], logger });
});
afterEach(() => readModels.stop());

type ProvisionerRpc = keyof typeof PROVISIONER_RPCS;
type Reply = { ok: true; data: any } | { ok: false; error: ErrorBody };

/** Sends one request through the handler table, as the transport would; returns what it appended and asked of the driver. */
async function send(name: ProvisionerRpc, payload: unknown): Promise<{ reply: Reply; appended: EventEnvelope[]; driverCalls: string[] }> {
  const handler = handlers.get(PROVISIONER_RPCS[name].pattern);
  if (handler === undefined) throw new Error(`no handler for ${name}`);
  const head = await store.headPosition();
  const calls = driver.calls.length;
  const reply = (await handler(payload)) as Reply;
  return { reply, appended: await store.readAll({ after_position: head, limit: 10_000 }), driverCalls: driver.calls.slice(calls) };
}

/** A request that must succeed: its answer, the types of the events it appended and the driver calls it made. */
async function ok(name: ProvisionerRpc, payload: unknown): Promise<{ data: any; events: string[]; appended: EventEnvelope[]; driverCalls: string[] }> {
  const { reply, appended, driverCalls } = await send(name, payload);
  if (!reply.ok) throw new Error(`${name} refused: ${reply.error.code}: ${reply.error.message}`);
  return { data: reply.data, events: appended.map((e) => e.type), appended, driverCalls };
}

/** A request that must be refused: its error body, after checking that it appended nothing and left the driver alone. */
async function refused(name: ProvisionerRpc, payload: unknown): Promise<ErrorBody> {
  const { reply, appended, driverCalls } = await send(name, payload);
  if (reply.ok) throw new Error(`${name} was accepted: ${JSON.stringify(reply.data)}`);
  expect({ events: appended.map((e) => e.type), driverCalls }).toEqual({ events: [], driverCalls: [] });
  return reply.error;
}

const asOperator = (input: unknown) => ({ actor: OPERATOR, input });

/** Events the catalog appended, each on its own stream. */
async function givenCatalog(events: CatalogEvent[]): Promise<void> {
  for (const event of events) {
    const data = event.data as { module_id?: string; version_id?: string; template_id?: string };
    const stream =
      event.type === 'ModuleRegistered'
        ? catalogStreams.module(data.module_id!)
        : data.version_id !== undefined
          ? catalogStreams.moduleVersion(data.version_id)
          : catalogStreams.template(data.template_id!);
    await store.append(stream, [{ type: event.type, data: event.data }], { expected: 'any' });
  }
  await readModels.caughtUpWithStore();
}

/** The edge template with a live base OS module and a live app. */
async function givenLiveTemplate(): Promise<void> {
  await givenCatalog([
    templateCreated('edge'),
    moduleRegistered('os-base', { category: 'system-base' }),
    moduleRegistered('web-app', { requires: ['powernode/os-base@^1.0'] }),
    versionBuilt('os-base', '1.0.0'),
    versionBuilt('web-app', '0.1.0', { requires: ['powernode/os-base@^1.0'] }),
    ...promotedTo('os-base', '1.0.0', 'live'),
    ...promotedTo('web-app', '0.1.0', 'live'),
    assigned('os-base', 'edge'),
    assigned('web-app', 'edge'),
  ]);
}

const heartbeat = (running: Record<string, string>) => ({
  running_module_digests: running,
  composed_root_hash: null,
  generation: null,
  errors: [],
  agent_version: '1.0.0',
  boot_id: 'boot-1',
});

/** A node on the edge template, an instance provisioned on it, its agent enrolled: the instance and the agent's credential. */
async function enrolledInstance(hostname = 'edge-1'): Promise<{ nodeId: string; instanceId: string; credential: string }> {
  const nodeId = (await ok('createNode', asOperator({ hostname, node_template_id: 'edge' }))).data.node.id as string;
  const instanceId = (await ok('provisionInstance', asOperator({ node_id: nodeId }))).data.instance.id as string;
  const { credential } = (await ok('agentEnrol', { instance_id: instanceId, enrolment_token: driver.specs.get(instanceId)!.enrolment_token })).data;
  return { nodeId, instanceId, credential };
}

describe('nodes', () => {
  beforeEach(givenLiveTemplate);

  it('claims the hostname, then creates the node on the live channel, by template name or id', async () => {
    const created = await ok('createNode', asOperator({ hostname: 'edge-1', node_template_id: 'edge' }));
    expect(created.events).toEqual(['NodeHostnameClaimed', 'NodeCreated']);
    expect(created.appended.map((e) => e.stream)).toEqual([provisionerStreams.nodeRegistry(), provisionerStreams.node(created.data.node.id)]);
    expect(created.data.node).toMatchObject({ hostname: 'edge-1', channel: 'live' });
    const templateId = created.data.node.node_template_id as string;
    expect((await ok('createNode', asOperator({ hostname: 'edge-2', node_template_id: templateId, channel: 'staging' }))).data.node).toMatchObject({
      node_template_id: templateId,
      channel: 'staging',
    });
    const changed = await ok('setNodeChannel', asOperator({ node_id: created.data.node.id, channel: 'blessed' }));
    expect(changed.events).toEqual(['NodeChannelChanged']);
    expect(changed.data.node.channel).toBe('blessed');
  });

  it('gets, lists and pages nodes with the cursor it returns, and takes the `name` alias for the hostname', async () => {
    const a = (await ok('createNode', asOperator({ name: 'edge-a', node_template_id: 'edge' }))).data.node;
    expect(a.hostname).toBe('edge-a');
    await ok('createNode', asOperator({ hostname: 'edge-b', node_template_id: 'edge' }));
    expect((await ok('getNode', asOperator({ node_id: a.id }))).data.node).toMatchObject({ id: a.id, hostname: 'edge-a', instance_ids: [] });
    const first = (await ok('listNodes', asOperator({ limit: 1 }))).data;
    expect(first.nodes.map((n: { hostname: string }) => n.hostname)).toEqual(['edge-a']);
    const second = (await ok('listNodes', asOperator({ limit: 1, cursor: first.next_cursor }))).data;
    expect(second.nodes.map((n: { hostname: string }) => n.hostname)).toEqual(['edge-b']);
    expect(second.next_cursor).toBeNull();
    expect(await refused('listNodes', asOperator({ limit: 1, cursor: 'not-a-cursor' }))).toMatchObject({
      code: 'validation_failed',
      details: { field: 'cursor', rule: 'cursor_from_previous_page' },
    });
    expect((await refused('setNodeChannel', asOperator({ node_id: a.id, channel: 'sideways' }))).details?.['issues']).toEqual([
      expect.objectContaining({ path: 'input.channel' }),
    ]);
  });

  it('refuses a taken hostname, an unknown template and a bad hostname, and appends nothing', async () => {
    const first = (await ok('createNode', asOperator({ hostname: 'edge-1', node_template_id: 'edge' }))).data.node;
    expect(await refused('createNode', asOperator({ hostname: 'edge-1', node_template_id: 'edge' }))).toMatchObject({
      code: 'already_exists',
      details: { rule: 'hostname_unique', node_id: first.id },
    });
    expect(await refused('createNode', asOperator({ hostname: 'edge-3', node_template_id: 'no-such-template' }))).toMatchObject({
      code: 'not_found',
      details: { rule: 'template_must_exist' },
    });
    const bad = await refused('createNode', asOperator({ hostname: 'Not A Hostname!', node_template_id: 'edge' }));
    expect(bad.code).toBe('validation_failed');
    expect((bad.details?.['issues'] as { path: string }[]).map((i) => i.path)).toEqual(['input.hostname']);
    expect(await refused('setNodeChannel', asOperator({ node_id: 'no-such-node', channel: 'staging' }))).toMatchObject({
      code: 'not_found',
      details: { rule: 'node_must_exist' },
    });
  });
});

describe('an instance', () => {
  beforeEach(givenLiveTemplate);

  it('is provisioned through the driver up to starting, with only the SHA-256 of its enrolment token recorded', async () => {
    const nodeId = (await ok('createNode', asOperator({ hostname: 'edge-1', node_template_id: 'edge' }))).data.node.id as string;
    const provisioned = await ok('provisionInstance', asOperator({ node_id: nodeId }));
    const id = provisioned.data.instance.id as string;
    expect(provisioned.data.instance).toMatchObject({ node_id: nodeId, driver: 'local', status: 'starting', enrolled: false });
    expect(provisioned.events).toEqual(['InstanceProvisionRequested', 'InstanceStatusChanged', 'InstanceStatusChanged']);
    expect(provisioned.appended.slice(1).map((e) => (e.data as { to: string }).to)).toEqual(['provisioning', 'starting']);
    expect(provisioned.driverCalls).toEqual([`create ${id}`, `start ${id}`]);
    const spec = driver.specs.get(id)!;
    expect(spec).toMatchObject({ instance_id: id, hostname: 'edge-1', gateway_url: 'http://127.0.0.1:9', oci_registry: '127.0.0.1:5000' });
    expect(provisioned.appended[0]!.data).toMatchObject({ enrolment_token_sha256: sha256Hex(spec.enrolment_token) });
    expect(JSON.stringify(provisioned.appended)).not.toContain(spec.enrolment_token);
  });

  it('refuses an unknown node (not_found, node_must_exist) without asking the driver', async () => {
    expect(await refused('provisionInstance', asOperator({ node_id: 'no-such-node' }))).toMatchObject({
      code: 'not_found',
      details: { rule: 'node_must_exist' },
    });
  });

  it('moves to error naming the driver step and its message when the driver fails', async () => {
    const nodeId = (await ok('createNode', asOperator({ hostname: 'edge-1', node_template_id: 'edge' }))).data.node.id as string;
    driver.failing = { operation: 'start', message: 'no room for another sandbox' };
    const provisioned = await ok('provisionInstance', asOperator({ node_id: nodeId }));
    expect(provisioned.data.instance.status).toBe('error');
    expect(provisioned.appended.slice(1).map((e) => (e.data as { to: string; reason: string }).to)).toEqual(['provisioning', 'error']);
    expect((provisioned.appended.at(-1)!.data as { reason: string }).reason).toBe('driver start failed: no room for another sandbox');
    // A failed instance is terminated like any other, and the driver lets go of it.
    driver.failing = null;
    const id = provisioned.data.instance.id as string;
    const terminated = await ok('terminateInstance', asOperator({ id }));
    expect({ status: terminated.data.instance.status, events: terminated.events, driverCalls: terminated.driverCalls }).toEqual({
      status: 'terminated',
      events: ['InstanceTerminated'],
      driverCalls: [`destroy ${id}`],
    });
    expect(await driver.list()).toEqual([]);
  });

  it('enrols its agent once with the one-time token; a retry gets the same credential, a wrong or foreign token the same refusal', async () => {
    const nodeId = (await ok('createNode', asOperator({ hostname: 'edge-1', node_template_id: 'edge' }))).data.node.id as string;
    const id = (await ok('provisionInstance', asOperator({ node_id: nodeId }))).data.instance.id as string;
    const token = driver.specs.get(id)!.enrolment_token;
    const enrolled = await ok('agentEnrol', { instance_id: id, enrolment_token: token });
    expect(enrolled.events).toEqual(['InstanceEnrolled']);
    expect(enrolled.data).toEqual({ credential: expect.stringMatching(/^pnc_/), heartbeat_interval_ms: HEARTBEAT_INTERVAL_MS });
    expect(JSON.stringify(enrolled.appended)).not.toContain(enrolled.data.credential);

    // An agent whose answer was lost (the provisioner died mid-reply) asks again: the same credential, nothing new recorded.
    const retried = await ok('agentEnrol', { instance_id: id, enrolment_token: token });
    expect(retried.events).toEqual([]);
    expect(retried.data.credential).toBe(enrolled.data.credential);
    const wrong = await refused('agentEnrol', { instance_id: id, enrolment_token: `pne_${'x'.repeat(43)}` });
    const unknown = await refused('agentEnrol', { instance_id: 'no-such-instance', enrolment_token: token });
    expect(wrong.code).toBe('unauthenticated');
    expect(unknown).toEqual(wrong);
  });

  it('runs once its agent reports, gets its desired state, and shows drift until the agent runs what went live', async () => {
    const { instanceId, credential } = await enrolledInstance();
    const desired = (await ok('agentDesired', { credential })).data;
    expect(desired.instance_id).toBe(instanceId);
    expect(desired.modules.map((m: { module_name: string }) => m.module_name)).toEqual(['os-base', 'web-app']);

    // Nothing runs yet: both modules are missing.
    expect((await ok('driftReport', asOperator({ instance_id: instanceId }))).data).toMatchObject({ drift: true, missing_count: 2, extra_count: 0 });

    const running = { 'os-base': composefsOf('os-base', '1.0.0'), 'web-app': composefsOf('web-app', '0.1.0') };
    const first = await ok('agentHeartbeat', { credential, heartbeat: heartbeat(running) });
    expect(first.events).toEqual(['InstanceStatusChanged', 'InstanceHeartbeatReceived']);
    expect(first.appended[0]!.data).toMatchObject({ from: 'starting', to: 'running' });
    expect(first.data).toEqual({ ok: true, desired_generation: desired.generation });
    expect((await ok('getInstance', asOperator({ id: instanceId }))).data.instance).toMatchObject({
      status: 'running',
      enrolled: true,
      running_module_digests: running,
    });
    expect((await ok('driftReport', asOperator({ instance_id: instanceId }))).data).toMatchObject({ drift: false, missing: {}, extra: {}, mismatched: {} });

    // The same report a moment later records nothing: the time lives in the liveness table.
    now += 100;
    expect((await ok('agentHeartbeat', { credential, heartbeat: heartbeat(running) })).events).toEqual([]);

    // A newer app version goes live: the desired generation moves on and the instance drifts until it runs it.
    await givenCatalog([versionBuilt('web-app', '0.2.0', { requires: ['powernode/os-base@^1.0'] }), ...promotedTo('web-app', '0.2.0', 'live')]);
    const drifting = (await ok('driftReport', asOperator({ instance_id: instanceId }))).data;
    expect(drifting).toMatchObject({
      drift: true,
      mismatched: { 'web-app': { want: composefsOf('web-app', '0.2.0'), have: composefsOf('web-app', '0.1.0') } },
    });
    now += 100;
    const behind = await ok('agentHeartbeat', { credential, heartbeat: heartbeat(running) });
    expect(behind.data.desired_generation).not.toBe(desired.generation);
    now += 100;
    const caughtUp = await ok('agentHeartbeat', { credential, heartbeat: heartbeat({ ...running, 'web-app': composefsOf('web-app', '0.2.0') }) });
    expect(caughtUp.events).toEqual(['InstanceHeartbeatReceived']);
    expect((await ok('driftReport', asOperator({ instance_id: instanceId }))).data.drift).toBe(false);
  });

  it('records an unchanged report again once the keep-alive interval has passed, and a changed one at once', async () => {
    const { instanceId, credential } = await enrolledInstance();
    const running = { 'web-app': composefsOf('web-app', '0.1.0') };
    await ok('agentHeartbeat', { credential, heartbeat: heartbeat(running) });
    now += DEFAULT_HEARTBEAT_KEEPALIVE_MS - 1;
    expect((await ok('agentHeartbeat', { credential, heartbeat: heartbeat(running) })).events).toEqual([]);
    // The exact time of an unrecorded report is still what the instance shows.
    expect((await ok('getInstance', asOperator({ id: instanceId }))).data.instance.last_heartbeat_at).toBe(new Date(now).toISOString());
    now += 1;
    expect((await ok('agentHeartbeat', { credential, heartbeat: heartbeat(running) })).events).toEqual(['InstanceHeartbeatReceived']);
    expect((await ok('agentHeartbeat', { credential, heartbeat: heartbeat({}) })).events).toEqual(['InstanceHeartbeatReceived']);
  });

  it('is marked stale once after three silent intervals, and the next report clears the mark', async () => {
    const { instanceId, credential } = await enrolledInstance();
    await ok('agentHeartbeat', { credential, heartbeat: heartbeat({}) });
    const staleMarks = async () => (await store.readStream(provisionerStreams.instance(instanceId))).filter((e) => e.type === 'InstanceHeartbeatStale');
    now += 3 * HEARTBEAT_INTERVAL_MS;
    await sweeper.sweep();
    expect(await staleMarks()).toEqual([]);
    now += 1;
    await sweeper.sweep();
    await sweeper.sweep();
    expect((await staleMarks()).map((e) => e.data)).toEqual([expect.objectContaining({ instance_id: instanceId, threshold_ms: 3 * HEARTBEAT_INTERVAL_MS })]);
    expect((await ok('getInstance', asOperator({ id: instanceId }))).data.instance).toMatchObject({ status: 'running', heartbeat_stale: true });
    now += HEARTBEAT_INTERVAL_MS;
    expect((await ok('agentHeartbeat', { credential, heartbeat: heartbeat({}) })).events).toEqual(['InstanceHeartbeatReceived']);
    expect((await ok('getInstance', asOperator({ id: instanceId }))).data.instance.heartbeat_stale).toBe(false);
  });

  it('refuses heartbeats without a valid credential and running modules that are not module names', async () => {
    const { credential } = await enrolledInstance();
    expect(await refused('agentHeartbeat', { credential: 'pnc_not-a-credential', heartbeat: heartbeat({}) })).toMatchObject({
      code: 'unauthenticated',
      details: { rule: 'agent_credential' },
    });
    expect(await refused('agentDesired', { credential: 'pnc_not-a-credential' })).toMatchObject({ code: 'unauthenticated' });
    expect(await refused('agentHeartbeat', { credential, heartbeat: heartbeat({ 'Not A Module': composefsOf('web-app', '0.1.0') }) })).toMatchObject({
      code: 'validation_failed',
      details: { field: 'running_module_digests', rule: 'module_name' },
    });
  });

  it('stops and starts through the driver; stopping a stopped instance changes nothing', async () => {
    const { instanceId, credential } = await enrolledInstance();
    await ok('agentHeartbeat', { credential, heartbeat: heartbeat({}) });
    const stopped = await ok('stopInstance', asOperator({ id: instanceId }));
    expect(stopped.data.instance.status).toBe('stopped');
    expect(stopped.appended.map((e) => (e.data as { to: string }).to)).toEqual(['stopping', 'stopped']);
    expect(stopped.driverCalls).toEqual([`stop ${instanceId}`]);
    expect((await ok('stopInstance', asOperator({ id: instanceId }))).events).toEqual([]);

    const started = await ok('startInstance', asOperator({ id: instanceId }));
    expect(started.data.instance.status).toBe('starting');
    expect(started.driverCalls).toEqual([`start ${instanceId}`]);
  });

  it('is terminated once: the driver destroys it, its credential is revoked, and a terminated instance cannot stop', async () => {
    const { instanceId, credential } = await enrolledInstance();
    await ok('agentHeartbeat', { credential, heartbeat: heartbeat({}) });
    const terminated = await ok('terminateInstance', asOperator({ id: instanceId }));
    expect(terminated.events).toEqual(['InstanceTerminated']);
    expect(terminated.appended[0]!.data).toMatchObject({ instance_id: instanceId, from: 'running', terminated_by: 'operator' });
    expect(terminated.driverCalls).toEqual([`destroy ${instanceId}`]);
    expect(terminated.data.instance).toMatchObject({ id: instanceId, status: 'terminated', services: [], address: null });
    expect(await driver.list()).toEqual([]);

    expect(await refused('agentHeartbeat', { credential, heartbeat: heartbeat({}) })).toMatchObject({ code: 'unauthenticated' });
    expect(await refused('agentDesired', { credential })).toMatchObject({ code: 'unauthenticated' });
    expect(await refused('agentEnrol', { instance_id: instanceId, enrolment_token: `pne_${'x'.repeat(43)}` })).toMatchObject({ code: 'unauthenticated' });
    // Again: nothing more is recorded; the driver is asked to destroy again, a no-op for an absent instance.
    const again = await ok('terminateInstance', asOperator({ id: instanceId }));
    expect(again.events).toEqual([]);
    expect(again.driverCalls).toEqual([`destroy ${instanceId}`]);
    expect(again.data.instance.status).toBe('terminated');
    expect(await refused('stopInstance', asOperator({ id: instanceId }))).toMatchObject({
      code: 'invalid_transition',
      details: { from: 'terminated', to: 'stopping', rule: 'instance_status_machine' },
    });
    expect((await ok('listInstances', asOperator({}))).data.instances.map((i: { id: string }) => i.id)).not.toContain(instanceId);
  });

  it('refuses to terminate, stop or report on an instance that does not exist (not_found)', async () => {
    expect(await refused('terminateInstance', asOperator({ id: 'no-such-instance' }))).toMatchObject({ code: 'not_found' });
    expect(await refused('stopInstance', asOperator({ id: 'no-such-instance' }))).toMatchObject({ code: 'not_found' });
    expect(await refused('driftReport', asOperator({ instance_id: 'no-such-instance' }))).toMatchObject({ code: 'not_found' });
  });
});
