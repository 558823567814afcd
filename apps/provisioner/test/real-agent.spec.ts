import { existsSync } from 'node:fs';
import { waitUntil } from '@powernode/testing';
import { agentProcessesOf, catalogSetup, startProvisionerPlatform, uniqueName, type ProvisionerPlatform } from './provisioner-platform.js';

/*
 * The provisioner with the real agent (apps/agent/src/main.ts, the local driver's default command) instead of
 * the stand-in: enrolment, desired state, heartbeats and termination across the real hand-off. The catalog's
 * builds here point at artifacts no registry holds, so the agent reports why it cannot run them.
 */

let p: ProvisionerPlatform;
let catalog: ReturnType<typeof catalogSetup>;

beforeAll(async () => {
  // An empty POWERNODE_AGENT_COMMAND counts as unset: the driver runs this checkout's agent.
  p = await startProvisionerPlatform({ POWERNODE_AGENT_COMMAND: '', POWERNODE_HEARTBEAT_INTERVAL_MS: '500' });
  catalog = catalogSetup(p);
}, 180_000);

afterAll(async () => {
  await p?.stop();
}, 60_000);

async function instance(id: string): Promise<any> {
  return (await p.rest('GET', `/instances/${id}`)).body.instance;
}

async function provision(templateId: string): Promise<string> {
  const node = await p.rest('POST', '/nodes', { hostname: uniqueName('real'), node_template_id: templateId });
  expect(node.status).toBe(201);
  const res = await p.rest('POST', `/nodes/${node.body.node.id}/instances`);
  expect(res.status).toBe(201);
  return res.body.instance.id as string;
}

describe('the real agent', () => {
  it('enrols, reports and runs an instance of an empty template without drift, and is stopped by terminate', async () => {
    const id = await provision(await catalog.createTemplate(uniqueName('empty'), []));
    const running = await waitUntil(
      'the real agent to report',
      async () => {
        const view = await instance(id);
        return view.status === 'running' ? view : null;
      },
      60_000,
    );
    expect(running).toMatchObject({ enrolled: true, running_module_digests: {}, agent_version: expect.any(String), boot_id: expect.any(String) });
    expect((await p.rest('GET', `/instances/${id}/drift`)).body).toMatchObject({ drift: false });

    const terminated = await p.rest('POST', `/instances/${id}/terminate`);
    expect(terminated.body.instance.status).toBe('terminated');
    await waitUntil('the sandbox to be destroyed', async () => !existsSync(p.instanceDir(id)));
    expect(agentProcessesOf(id)).toEqual([]);
  });

  it('reports the module it cannot pull as an error, and the drift report shows it missing', async () => {
    const module = await catalog.registerModule(uniqueName('ghost'), 'userland');
    const build = await catalog.recordBuild(module, '1.0.0');
    await catalog.promote(build.version_id, 'staging', 'blessed', 'live');
    const id = await provision(await catalog.createTemplate(uniqueName('ghostly'), [module.name]));
    const failing = await waitUntil(
      'the agent to report the failed pull',
      async () => {
        const view = await instance(id);
        return view.status === 'running' && view.errors.length > 0 ? view : null;
      },
      60_000,
    );
    expect(failing.errors[0]).toMatchObject({ module: module.name, message: expect.any(String) });
    expect(failing.running_module_digests).toEqual({});
    const drift = (await p.rest('GET', `/instances/${id}/drift`)).body;
    expect(drift).toMatchObject({ drift: true, missing: { [module.name]: build.composefs_digest }, extra: {}, mismatched: {} });
  });
});
