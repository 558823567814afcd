import { existsSync } from 'node:fs';
import path from 'node:path';
import { waitUntil } from '@powernode/testing';
import {
  agentProcessesOf,
  catalogSetup,
  startProvisionerPlatform,
  startSecondHost,
  uniqueName,
  type ProvisionerPlatform,
  type SecondHost,
} from './provisioner-platform.js';

/*
 * Two provisioner hosts on one store and one NATS server, each with its own driver and data directory (as two
 * hypervisor machines would be). An instance runs on the host that recorded its provisioning; every command may
 * reach either provisioner, and only the instance's host acts on its events or answers what needs its machine
 * (exec) or its agent's liveness (heartbeats): the other forwards those.
 */

let p: ProvisionerPlatform;
let hostB: SecondHost | undefined;
let nodeId: string;

beforeAll(async () => {
  p = await startProvisionerPlatform({ POWERNODE_PROVISIONER_HOST: 'hv-a' });
  const catalog = catalogSetup(p);
  const templateId = await catalog.createTemplate(uniqueName('empty'), []);
  const node = await p.rest('POST', '/nodes', { hostname: uniqueName('hosts'), node_template_id: templateId });
  expect(node.status).toBe(201);
  nodeId = node.body.node.id as string;
}, 180_000);

afterAll(async () => {
  await hostB?.stop();
  await p?.stop();
}, 60_000);

async function instance(id: string): Promise<any> {
  return (await p.rest('GET', `/instances/${id}`)).body.instance;
}

async function provisionRunning(): Promise<any> {
  const res = await p.rest('POST', `/nodes/${nodeId}/instances`);
  expect(res.status).toBe(201);
  const id = res.body.instance.id as string;
  return waitUntil(`instance ${id} to run`, async () => {
    const view = await instance(id);
    return view.status === 'running' ? view : null;
  });
}

async function statusesOf(id: string): Promise<string[]> {
  return (await p.instanceEvents(id)).filter((e) => e.type === 'InstanceStatusChanged').map((e) => (e.data as { to: string }).to);
}

it('runs each instance on the host that provisioned it; commands reach either host, the right one acts, and every step happens once', async () => {
  // Only hv-a listens: the first instance is provisioned there.
  const onA = await provisionRunning();
  expect(onA.provisioner_host).toBe('hv-a');

  // hv-b joins with a data directory of its own; while hv-a is away, the next instance goes to hv-b.
  hostB = await startSecondHost(p, 'hv-b');
  const dirB = hostB.dataDir;
  await p.platform.services.get('provisioner')!.stop();
  const onB = await provisionRunning();
  expect(onB.provisioner_host).toBe('hv-b');
  await p.platform.startService('provisioner');

  const sandboxIn = (dir: string, id: string) => existsSync(path.join(dir, 'instances', id));
  expect([sandboxIn(p.dataDir, onA.id), sandboxIn(dirB, onA.id)]).toEqual([true, false]);
  expect([sandboxIn(p.dataDir, onB.id), sandboxIn(dirB, onB.id)]).toEqual([false, true]);

  // Exec needs the instance's machine: whichever provisioner receives it, the instance's host runs it.
  for (let round = 0; round < 6; round++) {
    for (const target of [onA, onB]) {
      const res = await p.rest('POST', `/instances/${target.id}/exec`, { argv: ['/bin/echo', `round ${round}`] });
      expect({ status: res.status, stdout: res.body.stdout }).toEqual({ status: 200, stdout: `round ${round}\n` });
    }
  }
  // Heartbeats reach the host that judges their silence: neither instance was marked stale meanwhile.
  for (const target of [onA, onB]) {
    expect((await p.instanceEvents(target.id)).filter((e) => e.type === 'InstanceHeartbeatStale')).toEqual([]);
    expect(await instance(target.id)).toMatchObject({ status: 'running', heartbeat_stale: false });
  }

  // Each host has its own durable consumer, and /metrics shows how far behind each is.
  const metrics = await (await fetch(`${p.platform.url}/metrics`)).text();
  expect(metrics).toMatch(/powernode_consumer_pending\{consumer="provisioner-hv-a"\} \d+/);
  expect(metrics).toMatch(/powernode_consumer_pending\{consumer="provisioner-hv-b"\} \d+/);

  // Stop reaches either provisioner; the instance's host stops its agent, the other host's instance runs on.
  expect((await p.rest('POST', `/instances/${onB.id}/stop`)).status).toBe(200);
  await waitUntil('the instance on hv-b to stop', async () => (await instance(onB.id)).status === 'stopped' && agentProcessesOf(onB.id).length === 0);
  expect(agentProcessesOf(onA.id)).toHaveLength(1);
  expect((await instance(onA.id)).status).toBe('running');

  for (const target of [onA, onB]) expect((await p.rest('POST', `/instances/${target.id}/terminate`)).status).toBe(200);
  await waitUntil('both hosts to destroy their sandboxes', async () => !sandboxIn(p.dataDir, onA.id) && !sandboxIn(dirB, onB.id));
  expect(agentProcessesOf(onA.id)).toEqual([]);

  // Each step once, although each host's consumer heard every instance's events.
  expect(await statusesOf(onA.id)).toEqual(['provisioning', 'starting', 'running']);
  expect(await statusesOf(onB.id)).toEqual(['provisioning', 'starting', 'running', 'stopping', 'stopped']);
}, 180_000);
