import { readFileSync } from 'node:fs';
import type { EventEnvelope } from '@powernode/events';
import { waitUntil } from '@powernode/testing';
import { INSTANCE_TRANSITIONS } from '../src/domain/index.js';
import { agentProcessesOf, catalogSetup, startProvisionerPlatform, uniqueName, type ProvisionerPlatform } from './provisioner-platform.js';

/*
 * Crash safety of the provisioner: killed with SIGKILL while it provisions instances, started again, it must
 * finish what it was doing, adopt the agents that kept running, and never append an event twice or start a
 * second agent for an instance.
 */

let p: ProvisionerPlatform;
let nodeId: string;
let composefs: string;

beforeAll(async () => {
  // Three missed beats mark an instance stale: at 1 s a restarted provisioner that is busy catching up (its
  // consumer redelivering what the killed one left unacked) on a loaded machine is not mistaken for silence.
  p = await startProvisionerPlatform({ POWERNODE_HEARTBEAT_INTERVAL_MS: '1000' });
  const catalog = catalogSetup(p);
  const module = await catalog.registerModule(uniqueName('rmod'), 'userland');
  const build = await catalog.recordBuild(module, '1.0.0');
  await catalog.promote(build.version_id, 'staging', 'blessed', 'live');
  composefs = build.composefs_digest;
  const templateId = await catalog.createTemplate(uniqueName('rtpl'), [module.name]);
  const node = await p.rest('POST', '/nodes', { hostname: uniqueName('restart'), node_template_id: templateId });
  expect(node.status).toBe(201);
  nodeId = node.body.node.id;
}, 180_000);

afterAll(async () => {
  await p?.stop();
}, 60_000);

async function instanceStatus(id: string): Promise<any> {
  return (await p.rest('GET', `/instances/${id}`)).body.instance;
}

/** Ids of every instance whose provisioning was recorded, in log order. */
async function requestedInstances(): Promise<string[]> {
  return (await p.store.readAll()).filter((e) => e.type === 'InstanceProvisionRequested').map((e) => (e.data as { instance_id: string }).instance_id);
}

/** The status path an instance's events describe, checked against the status machine. */
function statusPath(events: EventEnvelope[]): string[] {
  const visited: string[] = ['pending'];
  for (const e of events) {
    if (e.type !== 'InstanceStatusChanged') continue;
    const { from, to } = e.data as { from: keyof typeof INSTANCE_TRANSITIONS; to: keyof typeof INSTANCE_TRANSITIONS };
    expect(from).toBe(visited[visited.length - 1]);
    expect(INSTANCE_TRANSITIONS[from]).toContain(to);
    visited.push(to);
  }
  return visited;
}

/** Sends three provision requests and SIGKILLs the provisioner at the first new event matching `when`. */
async function provisionAndKillWhen(when: (event: EventEnvelope) => boolean): Promise<void> {
  const head = await p.store.headPosition();
  // The callers give up once the provisioner is dead (its answers would only time out).
  const callers = new AbortController();
  const inFlight = [1, 2, 3].map(() =>
    fetch(`${p.platform.url}/api/v1/system/nodes/${nodeId}/instances`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.platform.adminToken}` },
      signal: callers.signal,
    }).then(
      (res) => res.status,
      () => 'abandoned',
    ),
  );
  const deadline = Date.now() + 30_000;
  while (!(await p.store.readAll({ after_position: head })).some(when)) {
    if (Date.now() > deadline) throw new Error('the awaited event was never recorded');
    await new Promise((resolve) => setImmediate(resolve)); // let the requests go out
  }
  await p.platform.services.get('provisioner')!.kill();
  callers.abort();
  // Whatever was answered before the kill was a success, never a refusal.
  for (const answer of await Promise.all(inFlight)) expect([201, 'abandoned']).toContain(answer);
}

describe('a provisioner killed while it reconciles', () => {
  it('converges after a restart: no duplicate events, no second agents, running agents adopted', async () => {
    const first = await p.rest('POST', `/nodes/${nodeId}/instances`);
    expect(first.status).toBe(201);
    const adoptedId = first.body.instance.id as string;
    await waitUntil('the first instance to run', async () => (await instanceStatus(adoptedId)).status === 'running');
    const adoptedPid = await p.agentPid(adoptedId);

    // Several provisions in flight; the provisioner dies as soon as one of them is recorded, and once more
    // as soon as one of the next batch has its agent started.
    await provisionAndKillWhen((e) => e.type === 'InstanceProvisionRequested');
    await p.platform.startService('provisioner');
    await provisionAndKillWhen((e) => e.type === 'InstanceStatusChanged' && (e.data as { to: string }).to === 'starting');
    const restarted = await p.platform.startService('provisioner');
    const ids = await requestedInstances();
    expect(ids[0]).toBe(adoptedId);
    expect(ids.length).toBeGreaterThanOrEqual(3);
    for (const id of ids) {
      await waitUntil(`instance ${id} to run after the restart`, async () => {
        const instance = await instanceStatus(id);
        return instance.status === 'running' && instance.running_module_digests[Object.keys(instance.running_module_digests)[0] ?? ''] === composefs;
      });
    }

    for (const id of ids) {
      const events = await p.instanceEvents(id);
      expect(events.filter((e) => e.type === 'InstanceProvisionRequested')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'InstanceEnrolled')).toHaveLength(1);
      const statuses = statusPath(events);
      expect(new Set(statuses).size).toBe(statuses.length);
      expect(statuses[statuses.length - 1]).toBe('running');
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      // One agent per instance, started once: the restart adopted what ran and started only what did not.
      await waitUntil(`a single agent for ${id}`, () => agentProcessesOf(id).length === 1);
      const starts = readFileSync(`${p.sandboxOf(id)}/starts`, 'utf8')
        .trim()
        .split('\n');
      expect(starts).toHaveLength(1);
      expect((await p.rest('GET', `/instances/${id}/drift`)).body.drift).toBe(false);
    }
    expect(await p.agentPid(adoptedId)).toBe(adoptedPid);
    expect(agentProcessesOf(adoptedId)).toEqual([adoptedPid]);
    expect(restarted.lines.some((l) => l.includes('"outcome":"adopted"') && l.includes(adoptedId))).toBe(true);
    // Agents never heard from since the restart are not stale: silence before it does not count.
    expect((await instanceStatus(adoptedId)).heartbeat_stale).toBe(false);
  });

  it('keeps running agents through a clean restart and reports them adopted', async () => {
    const ids = (await p.rest('GET', '/instances?limit=200')).body.instances.map((i: { id: string }) => i.id) as string[];
    const pids = await Promise.all(ids.map((id) => p.agentPid(id)));
    await p.platform.services.get('provisioner')!.stop();
    const restarted = await p.platform.startService('provisioner');
    const ready = JSON.parse(restarted.lines.find((l) => l.includes('provisioner ready'))!) as { reconciled: number };
    expect(ready.reconciled).toBe(ids.length);
    expect(await Promise.all(ids.map((id) => p.agentPid(id)))).toEqual(pids);
    for (const id of ids) {
      // Each agent still talks to the new provisioner with the credential it got from the old one.
      const before = (await instanceStatus(id)).last_heartbeat_at as string;
      await waitUntil(`a heartbeat from ${id} after the restart`, async () => (await instanceStatus(id)).last_heartbeat_at > before);
    }
  });
});
