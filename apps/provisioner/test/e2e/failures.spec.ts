import { randomBytes } from 'node:crypto';
import { rm, stat, writeFile } from 'node:fs/promises';
import { agentProcessesOf } from '../provisioner-platform.js';
import {
  convergedOn,
  eventually,
  expectNoDuplicateEvents,
  heartbeatAfter,
  promoteThrough,
  publishProbe,
  registerProbe,
  runningInstance,
  startE2ePlatform,
  templateAndNode,
  type E2ePlatform,
  type LoggedEvent,
  type ProbeModule,
} from './e2e-platform.test-support.js';

/*
 * What goes wrong in a rollout, on the whole platform with the real agent: a blob altered in the registry
 * after ingest, the registry unreachable while instances reconcile, the agent killed half-way through a pull,
 * the provisioner killed while instances are being provisioned and moved. Each time the running modules stay
 * what they were until the new version is verified, the failure is reported, and everything converges
 * afterwards without an event recorded twice.
 */

let e: E2ePlatform;
let probe: ProbeModule;
let nodeId: string;
let instanceId: string;
/** The version every test starts from and, unless it moves them on, leaves the instance at. */
let current: { version: { id: string; composefs_digest: string | null } };

beforeAll(async () => {
  e = await startE2ePlatform();
  probe = await registerProbe(e, 'faults');
  current = await publishProbe(e, probe, '1.0.0');
  await promoteThrough(e, current.version.id, 'staging', 'blessed', 'live');
  nodeId = (await templateAndNode(e, 'faults', [probe.name])).nodeId;
  instanceId = await runningInstance(e, nodeId, probe.name, current.version.composefs_digest!);
}, 180_000);

afterAll(async () => {
  await e?.stop();
  if (probe) await rm(probe.work, { recursive: true, force: true });
}, 120_000);

const digestOf = (v: { version: { composefs_digest: string | null } }) => v.version.composefs_digest!;

describe('failures during a rollout', () => {
  it('keeps the old version running when a blob of the new one was tampered with in the registry, and reports why', async () => {
    const tampered = await publishProbe(e, probe, '1.1.0');
    // After ingest verified it: same size, other bytes.
    const blob = e.registry.blobDataPath(tampered.treeLayer);
    const { size } = await stat(blob);
    await writeFile(blob, randomBytes(size));
    await promoteThrough(e, tampered.version.id, 'staging', 'blessed', 'live');

    const failing = await eventually('the agent to report the tampered blob', async () => {
      const i = await e.instance(instanceId);
      return i.errors.some((err: { module: string | null }) => err.module === probe.name) ? i : null;
    });
    expect(failing.status).toBe('running');
    expect(failing.running_module_digests).toEqual({ [probe.name]: digestOf(current) });
    const reported = failing.errors.find((err: { module: string | null }) => err.module === probe.name).message as string;
    expect(reported).toContain(`expected ${tampered.treeLayer}`);
    expect(reported).toMatch(/served different content/);
    expect(await e.drift(instanceId)).toMatchObject({ drift: true, mismatched: { [probe.name]: { want: digestOf(tampered), have: digestOf(current) } } });

    // Retiring the bad version makes the running one desired again: no drift, and the error clears.
    await promoteThrough(e, tampered.version.id, 'retired');
    await convergedOn(e, instanceId, probe.name, digestOf(current));
    await eventually('the error to clear', async () => (await e.instance(instanceId)).errors.length === 0);
  }, 120_000);

  it('keeps the current modules running while the registry is down, retries, and converges once it is back', async () => {
    const next = await publishProbe(e, probe, '1.2.0');
    e.gate.setMode({ kind: 'down' });
    const droppedBefore = e.gate.seen.filter((s) => s.action === 'drop').length;
    await promoteThrough(e, next.version.id, 'staging', 'blessed', 'live');

    const failing = await eventually('the agent to report the unreachable registry', async () => {
      const i = await e.instance(instanceId);
      return i.errors.some((err: { module: string | null }) => err.module === probe.name) ? i : null;
    });
    expect(failing.running_module_digests).toEqual({ [probe.name]: digestOf(current) });
    expect(failing.errors.find((err: { module: string | null }) => err.module === probe.name).message).toMatch(/unreachable/);
    // Several reconcile attempts, each refused at the door, while the old version keeps running.
    await eventually('the agent to try again', () => e.gate.seen.filter((s) => s.action === 'drop').length - droppedBefore >= 4);
    // The agent is alive and still reports the modules it ran before.
    const stillRunning = await heartbeatAfter(e, instanceId, new Date().toISOString());
    expect(stillRunning).toMatchObject({ status: 'running', running_module_digests: { [probe.name]: digestOf(current) } });
    expect((await e.drift(instanceId)).mismatched).toEqual({ [probe.name]: { want: digestOf(next), have: digestOf(current) } });

    e.gate.setMode({ kind: 'open' });
    await convergedOn(e, instanceId, probe.name, digestOf(next));
    await eventually('the error to clear', async () => (await e.instance(instanceId)).errors.length === 0);
    current = next;
  }, 120_000);

  it('converges after the agent is killed in the middle of a pull, with one agent and no event twice', async () => {
    const next = await publishProbe(e, probe, '1.3.0', 2 * 1024 * 1024);
    const pidBefore = await e.agentPid(instanceId);
    expect(pidBefore).not.toBeNull();
    e.gate.setMode({ kind: 'stall_blob', digest: next.treeLayer, afterBytes: 64 * 1024 });
    await promoteThrough(e, next.version.id, 'staging', 'blessed', 'live');
    await e.gate.stalled();
    process.kill(pidBefore!, 'SIGKILL');
    e.gate.setMode({ kind: 'open' });

    // The local driver starts the agent again; it resumes with its credential and finishes the pull.
    await eventually('a new agent', async () => {
      const pid = await e.agentPid(instanceId);
      return pid !== null && pid !== pidBefore;
    });
    await convergedOn(e, instanceId, probe.name, digestOf(next));
    await eventually('a single agent', () => agentProcessesOf(instanceId).length === 1);
    const events = await e.events(`instance-${instanceId}`);
    expectNoDuplicateEvents(events);
    expect(events.filter((ev) => ev.type === 'InstanceEnrolled')).toHaveLength(1);
    expect(reportedPath(events, probe.name).slice(-2)).toEqual([digestOf(current), digestOf(next)]);
    current = next;
  }, 120_000);

  it('converges after the provisioner is killed while it provisions and instances move, with no event twice', async () => {
    const next = await publishProbe(e, probe, '1.4.0');
    const head = await logHead();
    await promoteThrough(e, next.version.id, 'staging', 'blessed', 'live');
    // A provision in flight; the provisioner dies as soon as the request is recorded (the log is polled
    // back to back, so the driver is usually still starting the agent).
    const caller = new AbortController();
    const answer = fetch(`${e.platform.url}/api/v1/system/nodes/${nodeId}/instances`, {
      method: 'POST',
      headers: { authorization: `Bearer ${e.platform.adminToken}` },
      signal: caller.signal,
    }).then(
      (res) => res.status,
      () => 'abandoned',
    );
    const deadline = Date.now() + 30_000;
    let requested: LoggedEvent | undefined;
    while (requested === undefined) {
      if (Date.now() > deadline) throw new Error('the provision request was never recorded');
      requested = (await eventsAfter(head)).find((ev) => ev.type === 'InstanceProvisionRequested');
    }
    await e.platform.services.get('provisioner')!.kill();
    caller.abort();
    // Answered before the kill, or abandoned by the caller: never a refusal.
    expect([201, 'abandoned']).toContain(await answer);
    await e.platform.startService('provisioner');

    const added = requested.data.instance_id as string;
    for (const id of [instanceId, added]) {
      await convergedOn(e, id, probe.name, digestOf(next), 90_000);
      const events = await e.events(`instance-${id}`);
      expectNoDuplicateEvents(events);
      expect(events.filter((ev) => ev.type === 'InstanceEnrolled')).toHaveLength(1);
      await eventually(`a single agent for ${id}`, () => agentProcessesOf(id).length === 1);
    }
    expect(reportedPath(await e.events(`instance-${added}`), probe.name)).toEqual([digestOf(next)]);
    expect(reportedPath(await e.events(`instance-${instanceId}`), probe.name).slice(-2)).toEqual([digestOf(current), digestOf(next)]);
    // Exactly the one instance that was asked for was added to the node.
    const { instances } = await e.client.call<{ instances: { id: string }[] }>('system_list_instances', { node_id: nodeId });
    expect(instances.map((i) => i.id).sort()).toEqual([instanceId, added].sort());
  }, 180_000);
});

/** The running versions an instance reported, in order, each once. */
function reportedPath(events: LoggedEvent[], module: string): string[] {
  const reported = events
    .filter((ev) => ev.type === 'InstanceHeartbeatReceived')
    .map((ev) => ev.data.running_module_digests[module] as string | undefined)
    .filter((d): d is string => d !== undefined);
  return reported.filter((d, i) => i === 0 || d !== reported[i - 1]);
}

/** The position of the newest event in the global log. */
async function logHead(): Promise<number> {
  let from = 0;
  for (;;) {
    const page = await e.rest('GET', `/events?from=${from}&limit=1000`);
    const events = page.body.events as LoggedEvent[];
    if (events.length > 0) from = events[events.length - 1]!.position;
    if (page.body.next_from === null) return from;
  }
}

/** Events of the global log after `position`. */
async function eventsAfter(position: number): Promise<LoggedEvent[]> {
  const page = await e.rest('GET', `/events?from=${position}&limit=1000`);
  return page.body.events as LoggedEvent[];
}
