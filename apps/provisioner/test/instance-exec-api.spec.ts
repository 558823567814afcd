import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { catalogSetup, startProvisionerPlatform, uniqueName, waitFor, type ProvisionerPlatform } from './provisioner-platform.js';

/*
 * `system_exec_instance` over REST (JSON and streamed NDJSON), MCP and the CLI, against catalog, provisioner
 * and gateway as real processes; instances run by the local driver with the stand-in agent, whose composed
 * root holds /etc/stand-in-release.
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

/** POST …/exec asking for NDJSON: the status, the content type, and each line with when it arrived (ms after the request). */
async function streamExec(
  id: string,
  body: Record<string, unknown>,
  as = operator,
): Promise<{ status: number; type: string | null; lines: { line: any; at: number }[]; text: string }> {
  const started = Date.now();
  const res = await fetch(`${p.platform.url}/api/v1/system/instances/${id}/exec`, {
    method: 'POST',
    headers: { authorization: `Bearer ${as}`, 'content-type': 'application/json', accept: 'application/x-ndjson' },
    body: JSON.stringify(body),
  });
  const lines: { line: any; at: number }[] = [];
  let text = '';
  let pending = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const piece = decoder.decode(chunk, { stream: true });
    text += piece;
    pending += piece;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      lines.push({ line: JSON.parse(pending.slice(0, newline)), at: Date.now() - started });
      pending = pending.slice(newline + 1);
    }
  }
  return { status: res.status, type: res.headers.get('content-type'), lines, text };
}

/** The output of streamed lines joined per stream, and the last line. */
function outputOf(lines: { line: any }[]): { stdout: string; stderr: string; last: any } {
  const joined = (stream: string) =>
    lines
      .filter((l) => l.line.stream === stream)
      .map((l) => l.line.data as string)
      .join('');
  return { stdout: joined('stdout'), stderr: joined('stderr'), last: lines.at(-1)?.line };
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [path.join(REPO_ROOT, 'bin/powernode.mjs'), ...args], {
      env: { ...process.env, POWERNODE_URL: p.platform.url, POWERNODE_TOKEN: operator },
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
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
    expect(res.body).toEqual({
      exit_code: 0,
      stdout: `stand-in root of ${instanceId}\n`,
      stderr: '',
      truncated: false,
      timed_out: false,
      duration_ms: expect.any(Number),
    });
    const recorded = (await p.instanceEvents(instanceId)).filter((e) => e.type === 'InstanceCommandExecuted');
    expect(recorded.map((e) => e.data)).toEqual([
      {
        instance_id: instanceId,
        argv: ['/bin/cat', '/etc/stand-in-release'],
        exit_code: 0,
        timed_out: false,
        truncated: false,
        duration_ms: res.body.duration_ms,
        requested_by: expect.stringMatching(/^operator-/),
        executed_at: expect.any(String),
      },
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

describe('POST /instances/{id}/exec with Accept: application/x-ndjson', () => {
  it('streams stdout and stderr apart as the command writes them, then its exit code, and records the run', async () => {
    const argv = ['/bin/sh', '-c', 'echo a; sleep 1; echo b >&2; exit 3'];
    const res = await streamExec(instanceId, { argv });
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^application\/x-ndjson/);
    expect(res.lines.map((l) => l.line)).toEqual([
      { stream: 'stdout', data: 'a\n' },
      { stream: 'stderr', data: 'b\n' },
      { exit_code: 3, timed_out: false, duration_ms: expect.any(Number) },
    ]);
    // The first line reached the client about a second before the command ended, not with its end.
    expect(res.lines[2]!.at - res.lines[0]!.at).toBeGreaterThanOrEqual(800);
    const recorded = (await p.instanceEvents(instanceId)).filter(
      (e) => e.type === 'InstanceCommandExecuted' && JSON.stringify((e.data as { argv: string[] }).argv) === JSON.stringify(argv),
    );
    expect(recorded.map((e) => e.data)).toEqual([
      {
        instance_id: instanceId,
        argv,
        exit_code: 3,
        timed_out: false,
        truncated: false,
        duration_ms: res.lines[2]!.line.duration_ms,
        requested_by: expect.stringMatching(/^operator-/),
        executed_at: expect.any(String),
      },
    ]);
  });

  it('passes output beyond the 1 MiB reply limit through in full (3 MiB)', async () => {
    const bytes = 3 * 1024 * 1024;
    const res = await streamExec(instanceId, { argv: ['/bin/sh', '-c', `head -c ${bytes} /dev/zero | tr '\\000' a; echo done >&2`] });
    const { stdout, stderr, last } = outputOf(res.lines);
    expect({ length: stdout.length, onlyA: /^a*$/.test(stdout), stderr, last }).toEqual({
      length: bytes,
      onlyA: true,
      stderr: 'done\n',
      last: { exit_code: 0, timed_out: false, duration_ms: expect.any(Number) },
    });
  });

  it('never splits a multi-byte character between lines', async () => {
    // 10-byte lines in 64 KiB pipe reads: chunk boundaries fall inside characters.
    const res = await streamExec(instanceId, { argv: ['/bin/sh', '-c', "yes 'é€😀' | head -c 300000"] });
    const { stdout } = outputOf(res.lines);
    expect(stdout).toBe('é€😀\n'.repeat(30000));
    expect(res.text).not.toContain('\ufffd');
  });

  it('ends with timed_out and exit code 124 when the command outlives timeout_ms', async () => {
    const res = await streamExec(instanceId, { argv: ['/bin/sh', '-c', 'echo before; sleep 30'], timeout_ms: 1000 });
    expect(res.lines.map((l) => l.line)).toEqual([
      { stream: 'stdout', data: 'before\n' },
      { exit_code: 124, timed_out: true, duration_ms: expect.any(Number) },
    ]);
  });

  it('kills the command when the client goes away, and records the run', async () => {
    const abort = new AbortController();
    const res = await fetch(`${p.platform.url}/api/v1/system/instances/${instanceId}/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json', accept: 'application/x-ndjson' },
      body: JSON.stringify({ argv: ['/bin/sh', '-c', 'echo abandoned; sleep 30'], timeout_ms: 60_000 }),
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('abandoned');
    abort.abort();
    const recorded = await waitFor('the abandoned run to be recorded', async () =>
      (await p.instanceEvents(instanceId)).find(
        (e) => e.type === 'InstanceCommandExecuted' && (e.data as { argv: string[] }).argv.includes('echo abandoned; sleep 30'),
      ),
    );
    expect(recorded.data).toMatchObject({ timed_out: false, exit_code: 137 });
    expect((recorded.data as { duration_ms: number }).duration_ms).toBeLessThan(20_000);
  });

  it('answers refusals with their status before streaming anything: unknown instance 404, viewer 403, bad input 400', async () => {
    const unknown = await streamExec('no-such-instance', { argv: ['/bin/true'] });
    expect({ status: unknown.status, type: unknown.type }).toEqual({ status: 404, type: expect.stringMatching(/^application\/problem\+json/) });
    expect(JSON.parse(unknown.text)).toMatchObject({ code: 'not_found', rule: 'instance_must_exist' });
    expect((await streamExec(instanceId, { argv: ['/bin/true'] }, viewer)).status).toBe(403);
    expect((await streamExec(instanceId, { argv: [] })).status).toBe(400);
  });

  it('answers JSON as before to a client that does not ask for the stream', async () => {
    const res = await p.rest('POST', `/instances/${instanceId}/exec`, { argv: ['/bin/echo', 'plain'] });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ exit_code: 0, stdout: 'plain\n', truncated: false });
  });

  it('is documented in the OpenAPI document as an application/x-ndjson answer', async () => {
    const doc = (await (await fetch(`${p.platform.url}/api/docs`)).json()) as { paths: Record<string, Record<string, any>> };
    const ok = doc.paths['/api/v1/system/instances/{id}/exec']!['post'].responses['200'];
    expect(Object.keys(ok.content)).toEqual(['application/json', 'application/x-ndjson']);
    expect(ok.description).toContain('Accept: application/x-ndjson');
  });
});

describe('powernode instances exec', () => {
  it("writes the command's output as it comes, before the command ends", async () => {
    const started = Date.now();
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'bin/powernode.mjs'), 'instances', 'exec', instanceId, '--', '/bin/sh', '-c', 'echo first; sleep 2; echo second; exit 4'],
      {
        env: { ...process.env, POWERNODE_URL: p.platform.url, POWERNODE_TOKEN: operator },
        cwd: REPO_ROOT,
      },
    );
    const arrivals: { text: string; at: number }[] = [];
    child.stdout.setEncoding('utf8').on('data', (text: string) => arrivals.push({ text, at: Date.now() - started }));
    const [code] = (await once(child, 'close')) as [number];
    const ended = Date.now() - started;
    expect({ code, stdout: arrivals.map((a) => a.text).join('') }).toEqual({ code: 4, stdout: 'first\nsecond\n' });
    expect(ended - arrivals[0]!.at).toBeGreaterThanOrEqual(1500);
  });

  it('passes 3 MiB of output through in full', async () => {
    const run = await cli(['instances', 'exec', instanceId, '--', '/bin/sh', '-c', "head -c 3145728 /dev/zero | tr '\\000' b"]);
    expect({ code: run.code, length: run.stdout.length, onlyB: /^b*$/.test(run.stdout), stderr: run.stderr }).toEqual({
      code: 0,
      length: 3 * 1024 * 1024,
      onlyB: true,
      stderr: '',
    });
  });

  it('says so on stderr when --timeout killed the command, and exits 124', async () => {
    const run = await cli(['instances', 'exec', '--timeout', '1', instanceId, '--', '/bin/sleep', '30']);
    expect(run.code).toBe(124);
    expect(run.stderr).toContain('killed after 1 s (--timeout)');
  });

  it("writes the command's stdout and stderr as they came and exits with its exit code", async () => {
    const run = await cli(['instances', 'exec', instanceId, '--', '/bin/sh', '-c', 'echo out; echo err >&2; exit 5']);
    expect(run).toEqual({ code: 5, stdout: 'out\n', stderr: 'err\n' });
    const json = await cli(['instances', 'exec', '--json', instanceId, '--', '/bin/sh', '-c', 'cat /etc/stand-in-release; echo err >&2; exit 2']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({
      exit_code: 2,
      stdout: `stand-in root of ${instanceId}\n`,
      stderr: 'err\n',
      truncated: false,
      timed_out: false,
      duration_ms: expect.any(Number),
    });
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
    await waitFor('the instance to stop', async () => (await p.rest('GET', `/instances/${id}`)).body.instance.status === 'stopped');
    const stopped = await exec(id, { argv: ['/bin/true'] });
    expect(stopped.status).toBe(409);
    expect(stopped.body).toMatchObject({ code: 'instance_not_running', instance_status: 'stopped' });
    expect(stopped.body.detail).toContain('start it');
    const stoppedStream = await streamExec(id, { argv: ['/bin/true'] });
    expect({ status: stoppedStream.status, code: JSON.parse(stoppedStream.text).code }).toEqual({ status: 409, code: 'instance_not_running' });

    expect((await p.rest('POST', `/instances/${id}/terminate`)).status).toBe(200);
    const gone = await exec(id, { argv: ['/bin/true'] });
    expect(gone.status).toBe(409);
    expect(gone.body).toMatchObject({ code: 'instance_terminated', rule: 'instance_terminated' });
    expect(gone.body.detail).toMatch(/is terminated: it is gone .*provision a new instance/);
    const goneStream = await streamExec(id, { argv: ['/bin/true'] });
    expect({ status: goneStream.status, code: JSON.parse(goneStream.text).code }).toEqual({ status: 409, code: 'instance_terminated' });
    const run = await cli(['instances', 'exec', id, '--', '/bin/true']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('instance_terminated');
    expect((await p.instanceEvents(id)).filter((e) => e.type === 'InstanceCommandExecuted')).toEqual([]);
  });
});
