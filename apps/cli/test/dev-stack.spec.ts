import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '@powernode/testing';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** `npm start` as a user runs it: the dev command in its own process, until it prints that it is up. */
async function startStack(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; output: string[] }> {
  const child = spawn(process.execPath, [path.join(root, 'bin/powernode.mjs'), 'dev'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev stack not up within 90 s:\n${output.slice(-40).join('')}`)), 90_000);
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.join('').includes('Powernode is up')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dev stack exited with ${code}:\n${output.join('')}`));
    });
  });
  return { child, output };
}

async function stopStack(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGINT');
  return exited;
}

describe('npm start (powernode dev)', () => {
  let dataDir: string;
  afterAll(async () => dataDir && rm(dataDir, { recursive: true, force: true }));

  it('spawns NATS and the registry when nothing answers, serves /readyz, stops what it started on Ctrl-C, and finds the same state on restart', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'pn-dev-'));
    const [natsPort, registryPort, httpPort] = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
    const env = { POWERNODE_DATA_DIR: dataDir, NATS_URL: `nats://127.0.0.1:${natsPort}`, OCI_REGISTRY: `127.0.0.1:${registryPort}`, PORT: String(httpPort), POWERNODE_ADMIN_TOKEN: '' };
    const url = `http://127.0.0.1:${httpPort}`;

    const first = await startStack(env);
    const text = first.output.join('');
    expect(text).toContain(`starting nats-server (JetStream) on 127.0.0.1:${natsPort}`);
    expect(text).toContain(`starting docker-registry on 127.0.0.1:${registryPort}`);
    expect(text).toMatch(/catalog\s+\|/);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${registryPort}/v2/`)).status).toBe(200);
    const tokenFile = path.join(dataDir, 'admin-token');
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const token = (await readFile(tokenFile, 'utf8')).trim();
    const created = await fetch(`${url}/api/v1/system/modules`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'survives-restart', category: 'userland', variety: 'subscription', gitea_repo_full_name: 'acme/survives', cosign_identity_regexp: '.*', cosign_issuer_regexp: '.*' }),
    });
    expect(created.status).toBe(201);

    expect(await stopStack(first.child)).toBe(0);
    expect(await portOpen(httpPort)).toBe(false);
    expect(await portOpen(natsPort)).toBe(false);
    expect(await portOpen(registryPort)).toBe(false);

    const second = await startStack(env);
    expect((await readFile(tokenFile, 'utf8')).trim()).toBe(token);
    const again = await fetch(`${url}/api/v1/system/modules/survives-restart`, { headers: { authorization: `Bearer ${token}` } });
    expect(again.status).toBe(200);
    const templates = (await (await fetch(`${url}/api/v1/system/templates`, { headers: { authorization: `Bearer ${token}` } })).json()) as { templates: { name: string }[] };
    expect(templates.templates.map((t) => t.name).sort()).toEqual(['base', 'hardened']);
    expect(await stopStack(second.child)).toBe(0);
  }, 240_000);

  it('refuses a bad configuration value with one line naming the variable', async () => {
    const child = spawn(process.execPath, [path.join(root, 'bin/powernode.mjs'), 'dev'], { cwd: root, env: { ...process.env, PORT: 'not-a-port' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(1);
    expect(err).toContain('PORT');
  });
});
