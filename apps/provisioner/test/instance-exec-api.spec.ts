import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { catalogSetup, startProvisionerPlatform, uniqueName, waitFor, type ProvisionerPlatform } from './provisioner-platform.js';

/*
 * `system_exec_instance` over REST, MCP and the CLI, against catalog, provisioner and gateway as real
 * processes; instances run by the local driver with the stand-in agent, whose composed root holds
 * /etc/stand-in-release.
 */

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const execFileAsync = promisify(execFile);

let p: ProvisionerPlatform;
let nodeId: string;
let instanceId: string;
let operator: string;
let viewer: string;

async function token(role: string): Promise<string> {
  const res = await p.rest('POST', '/tokens', { role, name: uniqueName(role) });
  expect(res.status).toBe(201);
  return res.body.token as string;
}

async function provisionRunning(): Promise<string> {
  const res = await p.rest('POST', `/nodes/${nodeId}/instances`);
  expect(res.status).toBe(201);
  const id = res.body.instance.id as string;
  await waitFor(`instance ${id} to run`, async () => (await p.rest('GET', `/instances/${id}`)).body.instance.status === 'running');
  return id;
}

const exec = (id: string, body: Record<string, unknown>, as = operator) => p.rest('POST', `/instances/${id}/exec`, body, as);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [path.join(REPO_ROOT, 'bin/powernode.mjs'), ...args], {
      env: { ...process.env, POWERNODE_URL: p.platform.url, POWERNODE_TOKEN: operator },
      cwd: REPO_ROOT,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  p = await startProvisionerPlatform();
  const catalog = catalogSetup(p);
  const base = await catalog.registerModule(uniqueName('xbase'), 'system-base');
  const built = await catalog.recordBuild(base, '1.0.0');
  await catalog.promote(built.version_id, 'staging', 'blessed', 'live');
  const templateId = await catalog.createTemplate(uniqueName('xtpl'), [base.name]);
  const node = await p.rest('POST', '/nodes', { hostname: uniqueName('exec'), node_template_id: templateId });
  expect(node.status).toBe(201);
  nodeId = node.body.node.id;
  operator = await token('operator');
  viewer = await token('viewer');
  instanceId = await provisionRunning();
}, 180_000);

afterAll(async () => {
  await p?.stop();
}, 60_000);

describe('POST /instances/{id}/exec', () => {
  it('runs argv on the instance for an operator and records who ran what, not the output', async () => {
    const res = await exec(instanceId, { argv: ['/bin/cat', '/etc/stand-in-release'] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ exit_code: 0, stdout: `stand-in root of ${instanceId}\n`, stderr: '', truncated: false, timed_out: false, duration_ms: expect.any(Number) });
    const recorded = (await p.instanceEvents(instanceId)).filter((e) => e.type === 'InstanceCommandExecuted');
    expect(recorded.map((e) => e.data)).toEqual([
      { instance_id: instanceId, argv: ['/bin/cat', '/etc/stand-in-release'], exit_code: 0, timed_out: false, truncated: false, duration_ms: res.body.duration_ms, requested_by: expect.stringMatching(/^operator-/), executed_at: expect.any(String) },
    ]);
    expect(JSON.stringify(recorded)).not.toContain('stand-in root of');
  });

  it('passes the exit code and both streams through, and never hands argv to a shell', async () => {
    const failed = await exec(instanceId, { argv: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 7'] });
    expect(failed.body).toMatchObject({ exit_code: 7, stdout: 'out\n', stderr: 'err\n' });
    const literal = await exec(instanceId, { argv: ['/bin/echo', '$HOME;ls'] });
    expect(literal.body).toMatchObject({ exit_code: 0, stdout: '$HOME;ls\n' });
  });

  it('kills a command at timeout_ms and says so', async () => {
    const res = await exec(instanceId, { argv: ['/bin/sleep', '30'], timeout_ms: 1000 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ exit_code: 124, timed_out: true });
  });

  it('is refused to a viewer (403)', async () => {
    const res = await exec(instanceId, { argv: ['/bin/true'] }, viewer);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('forbidden');
  });

  it('answers 404 for an unknown instance', async () => {
    const res = await exec('no-such-instance', { argv: ['/bin/true'] });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'not_found', rule: 'instance_must_exist' });
  });

  it.each([
    ['no argv', {}, 'argv'],
    ['an empty argv', { argv: [] }, 'argv'],
    ['a NUL inside an argument', { argv: ['/bin/echo', 'a\u0000b'] }, 'argv[1]'],
    ['65 arguments', { argv: Array.from({ length: 65 }, () => 'x') }, 'argv'],
    ['an argument over 4096 characters', { argv: ['/bin/echo', 'x'.repeat(4097)] }, 'argv[1]'],
    ['a timeout under 1 s', { argv: ['/bin/true'], timeout_ms: 999 }, 'timeout_ms'],
    ['a timeout over 10 min', { argv: ['/bin/true'], timeout_ms: 600_001 }, 'timeout_ms'],
  ])('answers 400 naming the field for %s', async (_what, body, field) => {
    const res = await exec(instanceId, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.issues.map((i: { path: string }) => i.path)).toContain(field);
  });

  it('is the MCP tool system_exec_instance', async () => {
    const mcp = await p.mcp();
    try {
      const answer = await mcp.call('system_exec_instance', { id: instanceId, argv: ['/bin/cat', '/etc/stand-in-release'] });
      expect(answer).toMatchObject({ isError: false, data: { exit_code: 0, stdout: `stand-in root of ${instanceId}\n` } });
    } finally {
      await mcp.close();
    }
  });

  it('is listed in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${p.platform.url}/api/docs`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/api/v1/system/instances/{id}/exec'] ?? {})).toContain('post');
  });
});

describe('powernode instances exec', () => {
  it("writes the command's stdout and stderr as they came and exits with its exit code", async () => {
    const run = await cli(['instances', 'exec', instanceId, '--', '/bin/sh', '-c', 'echo out; echo err >&2; exit 5']);
    expect(run).toEqual({ code: 5, stdout: 'out\n', stderr: 'err\n' });
    const json = await cli(['instances', 'exec', '--json', instanceId, '--', '/bin/cat', '/etc/stand-in-release']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ exit_code: 0, stdout: `stand-in root of ${instanceId}\n`, timed_out: false });
  });

  it('prints a clear error and exits 1 for an unknown instance', async () => {
    const run = await cli(['instances', 'exec', 'no-such-instance', '--', '/bin/true']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/not_found: instance no-such-instance not found/);
  });
});

describe('instances that cannot run commands', () => {
  it('refuses a stopped instance (409 instance_not_running) and a terminated one (409 instance_terminated), also in the CLI', async () => {
    const id = await provisionRunning();
    expect((await p.rest('POST', `/instances/${id}/stop`)).status).toBe(200);
    const stopped = await exec(id, { argv: ['/bin/true'] });
    expect(stopped.status).toBe(409);
    expect(stopped.body).toMatchObject({ code: 'instance_not_running', instance_status: 'stopped' });
    expect(stopped.body.detail).toContain('start it');

    expect((await p.rest('POST', `/instances/${id}/terminate`)).status).toBe(200);
    const gone = await exec(id, { argv: ['/bin/true'] });
    expect(gone.status).toBe(409);
    expect(gone.body).toMatchObject({ code: 'instance_terminated', rule: 'instance_terminated' });
    expect(gone.body.detail).toMatch(/is terminated: it is gone .*provision a new instance/);
    const run = await cli(['instances', 'exec', id, '--', '/bin/true']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('instance_terminated');
    expect((await p.instanceEvents(id)).filter((e) => e.type === 'InstanceCommandExecuted')).toEqual([]);
  });
});
