import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { waitUntil } from '@powernode/testing';
import { agentProcessesOf, catalogSetup, startProvisionerPlatform, uniqueName, type CatalogModule, type ProvisionerPlatform } from './provisioner-platform.js';

/*
 * The provisioner end to end: catalog, provisioner and gateway as real processes on a private nats-server and
 * a SQLite store, instances run by the local driver with a stand-in agent that speaks the HTTP agent protocol.
 */

let p: ProvisionerPlatform;
let catalog: ReturnType<typeof catalogSetup>;
let base: CatalogModule;
let app: CatalogModule;
let baseV1: { version_id: string; oci_digest: string; composefs_digest: string };
let appV1: { version_id: string; oci_digest: string; composefs_digest: string };
let appV2: { version_id: string; oci_digest: string; composefs_digest: string };
let templateId: string;
let templateName: string;
/** The instance provisioned on a `live` node, shared by the tests that follow its life. */
let instanceId: string;

const readJson = (file: string): any => JSON.parse(readFileSync(file, 'utf8'));

async function getInstance(id: string): Promise<any> {
  const res = await p.rest('GET', `/instances/${id}`);
  expect(res.status).toBe(200);
  return res.body.instance;
}

async function createNode(body: Record<string, unknown>): Promise<any> {
  const res = await p.rest('POST', '/nodes', body);
  expect(res.status).toBe(201);
  return res.body.node;
}

async function provisionRunning(nodeId: string): Promise<any> {
  const res = await p.rest('POST', `/nodes/${nodeId}/instances`);
  expect(res.status).toBe(201);
  const id = res.body.instance.id as string;
  return waitUntil(`instance ${id} to run`, async () => {
    const instance = await getInstance(id);
    return instance.status === 'running' && Object.keys(instance.running_module_digests).length > 0 ? instance : null;
  });
}

beforeAll(async () => {
  p = await startProvisionerPlatform();
  catalog = catalogSetup(p);
  base = await catalog.registerModule(uniqueName('pbase'), 'system-base', { protected_spec: ['/etc/base.conf'], mask: ['/usr/share/doc/**'] });
  app = await catalog.registerModule(uniqueName('papp'), 'userland', { mask: ['/var/cache/**'], priority: 10 });
  baseV1 = await catalog.recordBuild(base, '1.0.0', { init: { start: 'base-init --start', stop: 'base-init --stop' } });
  appV1 = await catalog.recordBuild(app, '0.1.0', { init: { start: "redis-server '/etc/redis/redis.conf'" } });
  await catalog.promote(baseV1.version_id, 'staging', 'blessed', 'live');
  await catalog.promote(appV1.version_id, 'staging', 'blessed', 'live');
  templateName = uniqueName('ptpl');
  templateId = await catalog.createTemplate(templateName, [base.name, app.name]);
}, 180_000);

afterAll(async () => {
  await p?.stop();
}, 60_000);

describe('nodes', () => {
  it('creates a node on the live channel by default and lists, gets and re-channels it', async () => {
    const hostname = uniqueName('node');
    const node = await createNode({ hostname, node_template_id: templateId });
    expect(node).toMatchObject({ hostname, node_template_id: templateId, channel: 'live', instance_ids: [] });
    expect((await p.rest('GET', `/nodes/${node.id}`)).body.node.hostname).toBe(hostname);
    const changed = await p.rest('PATCH', `/nodes/${node.id}`, { channel: 'staging' });
    expect(changed.status).toBe(200);
    expect(changed.body.node.channel).toBe('staging');
    const listed = await p.rest('GET', '/nodes?limit=200');
    expect(listed.body.nodes.map((n: { id: string }) => n.id)).toContain(node.id);
  });

  it('refuses a second node with the same hostname (already_exists, hostname_unique)', async () => {
    const hostname = uniqueName('dup');
    const first = await createNode({ hostname, node_template_id: templateId });
    const second = await p.rest('POST', '/nodes', { hostname, node_template_id: templateId });
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: 'already_exists', rule: 'hostname_unique', node_id: first.id });
  });

  it('refuses an unknown template (not_found, template_must_exist) without claiming the hostname', async () => {
    const hostname = uniqueName('orphan');
    const refused = await p.rest('POST', '/nodes', { hostname, node_template_id: 'no-such-template' });
    expect(refused.status).toBe(404);
    expect(refused.body).toMatchObject({ code: 'not_found', rule: 'template_must_exist', field: 'node_template_id' });
    // The refusal changed nothing: the hostname is still free.
    expect((await createNode({ hostname, node_template_id: templateId })).hostname).toBe(hostname);
  });

  it('accepts a template name for node_template_id and the reference platform`s `name` alias over MCP', async () => {
    const mcp = await p.mcp();
    try {
      const hostname = uniqueName('mcp');
      const created = await mcp.call('system_create_node', { name: hostname, node_template_id: templateName, channel: 'blessed' });
      expect(created.isError).toBe(false);
      expect(created.data.node).toMatchObject({ hostname, node_template_id: templateId, channel: 'blessed' });
    } finally {
      await mcp.close();
    }
  });

  it('refuses a bad hostname, a bad channel and a pagination cursor it did not issue, naming the field', async () => {
    const badHost = await p.rest('POST', '/nodes', { hostname: 'Not_A_Host', node_template_id: templateId });
    expect(badHost.status).toBe(400);
    expect(JSON.stringify(badHost.body.issues)).toContain('hostname');
    const badChannel = await p.rest('POST', '/nodes', { hostname: uniqueName('chan'), node_template_id: templateId, channel: 'built' });
    expect(badChannel.status).toBe(400);
    expect(JSON.stringify(badChannel.body.issues)).toContain('channel');
    const badCursor = await p.rest('GET', '/nodes?cursor=!!');
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.field).toBe('cursor');
  });

  it('pages through nodes with the cursor it returns', async () => {
    const first = await p.rest('GET', '/nodes?limit=1');
    expect(first.body.nodes).toHaveLength(1);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await p.rest('GET', `/nodes?limit=1&cursor=${first.body.next_cursor}`);
    expect(second.body.nodes).toHaveLength(1);
    expect(second.body.nodes[0].hostname > first.body.nodes[0].hostname).toBe(true);
  });

  it('refuses to provision an instance of a node that does not exist (not_found, node_must_exist)', async () => {
    const res = await p.rest('POST', '/nodes/no-such-node/instances');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'not_found', rule: 'node_must_exist' });
  });
});

describe('an instance on a live node', () => {
  it('is provisioned pending → provisioning → starting → running, reports running_module_digests and shows no drift', async () => {
    const node = await createNode({ hostname: uniqueName('web'), node_template_id: templateId });
    const provisioned = await p.rest('POST', `/nodes/${node.id}/instances`);
    expect(provisioned.status).toBe(201);
    expect(provisioned.body.instance).toMatchObject({ node_id: node.id, driver: 'local' });
    // The command only records the request: the provisioner's consumer of instance events brings it up.
    expect(['pending', 'provisioning', 'starting', 'running']).toContain(provisioned.body.instance.status);
    instanceId = provisioned.body.instance.id;

    const running = await waitUntil('the instance to run both modules', async () => {
      const instance = await getInstance(instanceId);
      return instance.status === 'running' && Object.keys(instance.running_module_digests).length === 2 ? instance : null;
    });
    expect(running.running_module_digests).toEqual({ [base.name]: baseV1.composefs_digest, [app.name]: appV1.composefs_digest });
    expect(Date.parse(running.last_heartbeat_at)).not.toBeNaN();
    expect(running.enrolled).toBe(true);

    const drift = await p.rest('GET', `/instances/${instanceId}/drift`);
    expect(drift.status).toBe(200);
    expect(drift.body).toMatchObject({ drift: false, missing: {}, extra: {}, mismatched: {} });

    const events = await p.instanceEvents(instanceId);
    expect(events[0]!.type).toBe('InstanceProvisionRequested');
    expect((events[0]!.data as Record<string, unknown>)['enrolment_token_sha256']).toMatch(/^[0-9a-f]{64}$/);
    const statuses = events.filter((e) => e.type === 'InstanceStatusChanged').map((e) => (e.data as { to: string }).to);
    expect(statuses).toEqual(['provisioning', 'starting', 'running']);
    expect(events.filter((e) => e.type === 'InstanceEnrolled')).toHaveLength(1);
    // Neither secret is in the log.
    const token = readJson(path.join(p.sandboxOf(instanceId), 'env.json')).env.POWERNODE_ENROLMENT_TOKEN as string;
    expect(JSON.stringify(events)).not.toContain(token);
  });

  it('answers the same over MCP (system_get_instance, system_drift_report)', async () => {
    const mcp = await p.mcp();
    try {
      const got = await mcp.call('system_get_instance', { id: instanceId });
      expect(got.data.instance).toMatchObject({ id: instanceId, status: 'running', running_module_digests: { [app.name]: appV1.composefs_digest } });
      const drift = await mcp.call('system_drift_report', { instance_id: instanceId });
      expect(drift.data).toMatchObject({ drift: false, missing: {}, extra: {}, mismatched: {} });
      const missing = await mcp.call('system_get_instance', { id: 'no-such-instance' });
      expect(missing.isError).toBe(true);
      expect(missing.text).toMatch(/^not_found: /);
    } finally {
      await mcp.close();
    }
  });

  it('gives the agent its desired state: layers in priority order, effective masks, init commands and a generation', async () => {
    const desired = readJson(path.join(p.sandboxOf(instanceId), 'desired.json'));
    expect(desired.instance_id).toBe(instanceId);
    expect(desired.generation).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(desired.modules.map((m: { module_name: string }) => m.module_name)).toEqual([base.name, app.name]);
    const [baseLayer, appLayer] = desired.modules;
    expect(baseLayer).toMatchObject({
      version_id: baseV1.version_id,
      oci_digest: baseV1.oci_digest,
      composefs_digest: baseV1.composefs_digest,
      priority: 1000,
    });
    // Its own mask and the mask of the higher layer; its own protected path is not masked from itself.
    expect(baseLayer.effective_mask).toEqual(['/usr/share/doc/**', '/var/cache/**']);
    expect(baseLayer.init).toEqual({ start: 'base-init --start', stop: 'base-init --stop', restart: null });
    expect(appLayer.priority).toBe(5010);
    // The neighbour's protected path is masked out of the higher layer.
    expect(appLayer.effective_mask).toEqual(['/etc/base.conf', '/var/cache/**']);
    expect(appLayer.init.start).toBe("redis-server '/etc/redis/redis.conf'");
    expect(desired.unresolved).toEqual([]);
    const beat = readJson(path.join(p.sandboxOf(instanceId), 'last-heartbeat.json'));
    expect(beat).toMatchObject({ ok: true, desired_generation: desired.generation });
    const env = readJson(path.join(p.sandboxOf(instanceId), 'env.json')).env;
    expect(env.POWERNODE_AGENT_CACHE_DIR).toBe(path.join(p.dataDir, 'cache'));
    expect(env.POWERNODE_GATEWAY_URL).toBe(p.platform.url);
  });

  it('drifts when a newer version goes live, until the agent reports running it', async () => {
    const hold = path.join(p.sandboxOf(instanceId), 'hold');
    writeFileSync(hold, '');
    try {
      appV2 = await catalog.recordBuild(app, '0.2.0', { init: { start: 'redis-server' } });
      await catalog.promote(appV2.version_id, 'staging', 'blessed', 'live');
      const drift = await waitUntil('drift after the promotion', async () => {
        const res = await p.rest('GET', `/instances/${instanceId}/drift`);
        return res.body.drift === true ? res.body : null;
      });
      expect(drift).toMatchObject({ missing: {}, extra: {}, mismatched: { [app.name]: { want: appV2.composefs_digest, have: appV1.composefs_digest } } });
      // The heartbeat answer tells the agent that its generation is behind.
      await waitUntil('a heartbeat answer naming the new generation', () => {
        const beat = readJson(path.join(p.sandboxOf(instanceId), 'last-heartbeat.json'));
        return beat.desired_generation !== beat.reported_generation;
      });
    } finally {
      rmSync(hold, { force: true });
    }
    const converged = await waitUntil('the agent to report the new version', async () => {
      const instance = await getInstance(instanceId);
      return instance.running_module_digests[app.name] === appV2.composefs_digest ? instance : null;
    });
    expect(converged.running_module_digests[base.name]).toBe(baseV1.composefs_digest);
    expect((await p.rest('GET', `/instances/${instanceId}/drift`)).body.drift).toBe(false);
  });

  it('marks the instance stale when its agent is silent for three intervals, and clears the mark when it reports again', async () => {
    const pid = (await p.agentPid(instanceId))!;
    expect(pid).toEqual(expect.any(Number));
    process.kill(pid, 'SIGSTOP');
    try {
      const stale = await waitUntil('the stale mark', async () => {
        const instance = await getInstance(instanceId);
        return instance.heartbeat_stale ? instance : null;
      });
      expect(stale.status).toBe('running');
      const marks = (await p.instanceEvents(instanceId)).filter((e) => e.type === 'InstanceHeartbeatStale');
      expect(marks.length).toBeGreaterThanOrEqual(1);
      expect((marks[marks.length - 1]!.data as { threshold_ms: number }).threshold_ms).toBe(900);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitUntil('the stale mark to clear', async () => !(await getInstance(instanceId)).heartbeat_stale);
  });

  it('refuses the agent endpoints without a valid agent credential (401), and agent credentials on the operator API', async () => {
    const credential = readJson(path.join(p.sandboxOf(instanceId), 'data', 'credential.json')).credential as string;
    const ok = await p.agentApi('GET', 'desired', { credential });
    expect(ok.status).toBe(200);
    expect(ok.body.instance_id).toBe(instanceId);

    for (const bad of [undefined, 'pnc_not-a-credential-at-all', p.platform.adminToken]) {
      const refused = await p.agentApi('GET', 'desired', bad === undefined ? {} : { credential: bad });
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('unauthenticated');
      expect(refused.headers.get('www-authenticate')).toBe('Bearer');
      const beat = await p.agentApi('POST', 'heartbeat', {
        ...(bad === undefined ? {} : { credential: bad }),
        body: { running_module_digests: {}, composed_root_hash: null, generation: null, errors: [], agent_version: 'x', boot_id: 'y' },
      });
      expect(beat.status).toBe(401);
    }
    const operatorWithAgentCredential = await p.rest('GET', '/instances', undefined, credential);
    expect(operatorWithAgentCredential.status).toBe(401);

    const malformed = await p.agentApi('POST', 'heartbeat', { credential, body: { running_module_digests: { x: 'not-a-digest' } } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('validation_failed');
    const notJson = await fetch(`${p.platform.url}/api/v1/agent/heartbeat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(notJson.status).toBe(400);
    expect(notJson.headers.get('content-type')).toContain('application/problem+json');
    expect((await p.agentApi('GET', 'no-such-route', { credential })).status).toBe(404);
  });

  it('answers a repeated enrolment with the same credential and records nothing; a wrong token and an unknown instance get the same refusal', async () => {
    const token = readJson(path.join(p.sandboxOf(instanceId), 'env.json')).env.POWERNODE_ENROLMENT_TOKEN as string;
    const credential = readJson(path.join(p.sandboxOf(instanceId), 'data', 'credential.json')).credential as string;
    // What an agent does when the answer to its enrolment was lost: the one credential again, never a second one.
    const repeated = await p.agentApi('POST', 'enrol', { body: { instance_id: instanceId, enrolment_token: token } });
    expect(repeated.status).toBe(200);
    expect(repeated.body.credential).toBe(credential);
    const wrong = await p.agentApi('POST', 'enrol', { body: { instance_id: instanceId, enrolment_token: `pne_${'x'.repeat(43)}` } });
    const unknown = await p.agentApi('POST', 'enrol', { body: { instance_id: 'no-such-instance', enrolment_token: token } });
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(wrong.body.code).toBe('unauthenticated');
    expect(unknown.body.detail).toBe(wrong.body.detail);
    expect((await p.instanceEvents(instanceId)).filter((e) => e.type === 'InstanceEnrolled')).toHaveLength(1);
  });

  it('stops and starts again; stop and start are idempotent', async () => {
    const before = await p.agentPid(instanceId);
    const stopped = await p.rest('POST', `/instances/${instanceId}/stop`);
    expect(stopped.status).toBe(200);
    expect(['stopping', 'stopped']).toContain(stopped.body.instance.status);
    await waitUntil('the instance to stop', async () => (await getInstance(instanceId)).status === 'stopped');
    expect(agentProcessesOf(instanceId)).toEqual([]);
    const eventsStopped = (await p.instanceEvents(instanceId)).length;
    expect((await p.rest('POST', `/instances/${instanceId}/stop`)).body.instance.status).toBe('stopped');
    expect((await p.instanceEvents(instanceId)).length).toBe(eventsStopped);

    const started = await p.rest('POST', `/instances/${instanceId}/start`);
    expect(started.status).toBe(200);
    expect(['starting', 'running']).toContain(started.body.instance.status);
    await waitUntil('the restarted agent to report', async () => (await getInstance(instanceId)).status === 'running');
    expect(await p.agentPid(instanceId)).not.toBe(before);
    // The restarted agent kept its credential: no second enrolment.
    expect((await p.instanceEvents(instanceId)).filter((e) => e.type === 'InstanceEnrolled')).toHaveLength(1);
    const again = await p.rest('POST', `/instances/${instanceId}/start`);
    expect(again.body.instance.status).toBe('running');
  });
});

describe('terminating', () => {
  it('removes the sandbox, revokes the credential, is idempotent, names refused transitions and collects the shared cache', async () => {
    // A staging node runs a version the live instance does not: its artifacts are its alone.
    const appV3 = await catalog.recordBuild(app, '0.3.0');
    await catalog.promote(appV3.version_id, 'staging');
    const node = await createNode({ hostname: uniqueName('canary'), node_template_id: templateId, channel: 'staging' });
    const canary = await provisionRunning(node.id);
    await waitUntil('the canary to run 0.3.0', async () => (await getInstance(canary.id)).running_module_digests[app.name] === appV3.composefs_digest);
    const blob = (digest: string) => path.join(p.dataDir, 'cache', 'blobs', 'sha256', digest.slice('sha256:'.length));
    expect(existsSync(blob(appV3.oci_digest))).toBe(true);
    expect(existsSync(blob(appV1.oci_digest))).toBe(true); // left behind by the live instance's first version
    const credential = readJson(path.join(p.sandboxOf(canary.id), 'data', 'credential.json')).credential as string;
    const agents = agentProcessesOf(canary.id);
    expect(agents).toHaveLength(1);

    const terminated = await p.rest('POST', `/instances/${canary.id}/terminate`);
    expect(terminated.status).toBe(200);
    expect(terminated.body.instance).toMatchObject({ id: canary.id, status: 'terminated' });
    // The credential is revoked with the event; the host's reaction then destroys the sandbox.
    expect((await p.agentApi('GET', 'desired', { credential })).status).toBe(401);
    await waitUntil('the sandbox to be destroyed', async () => !existsSync(p.instanceDir(canary.id)));
    expect(agentProcessesOf(canary.id)).toEqual([]);
    expect((await p.agentApi('GET', 'desired', { credential })).status).toBe(401);

    // Blobs nobody desires or runs any more go (the host collects its cache after the destroy); the live
    // instance's are kept.
    await waitUntil('the cache to lose the blobs nobody needs', async () => !existsSync(blob(appV3.oci_digest)) && !existsSync(blob(appV1.oci_digest)));
    expect(existsSync(blob(appV2.oci_digest))).toBe(true);
    expect(existsSync(blob(baseV1.oci_digest))).toBe(true);
    const appV2Manifest = readJson(blob(appV2.oci_digest));
    expect(existsSync(blob(appV2Manifest.layers[0].digest))).toBe(true);

    const again = await p.rest('POST', `/instances/${canary.id}/terminate`);
    expect(again.status).toBe(200);
    expect(again.body.instance.status).toBe('terminated');
    expect((await p.instanceEvents(canary.id)).filter((e) => e.type === 'InstanceTerminated')).toHaveLength(1);

    const stop = await p.rest('POST', `/instances/${canary.id}/stop`);
    expect(stop.status).toBe(409);
    expect(stop.body).toMatchObject({ code: 'invalid_transition', from: 'terminated', to: 'stopping', allowed: [], rule: 'instance_status_machine' });
    expect(stop.body.detail).toContain('allowed from terminated: none');

    const listed = (await p.rest('GET', '/instances?limit=200')).body.instances.map((i: { id: string }) => i.id);
    expect(listed).toContain(instanceId);
    expect(listed).not.toContain(canary.id);
    // The live instance is untouched.
    expect((await getInstance(instanceId)).status).toBe('running');
  });

  it('refuses to terminate an instance that does not exist (not_found)', async () => {
    const res = await p.rest('POST', '/instances/no-such-instance/terminate');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
  });
});
