import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect as natsConnect } from '@nats-io/transport-node';
import { freeLoopbackPort, isAddressInUse } from '@powernode/testing';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Asks `probe` every 200 ms for up to 30 s until it answers something other than undefined or null. */
async function waitFor<T>(probe: () => Promise<T | undefined | null>, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await probe().catch(() => undefined);
    if (answer !== undefined && answer !== null) return answer;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** `npm start` as a user runs it: the dev command in its own process, until it prints that it is up. */
async function startStack(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; output: string[] }> {
  const child = spawn(process.execPath, [path.join(root, 'bin/powernode.mjs'), 'dev'], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
      reject(Object.assign(new Error(`dev stack exited with ${code}:\n${output.join('')}`), { output: output.join('') }));
    });
  });
  return { child, output };
}

interface StackPorts {
  nats: number;
  registry: number;
  http: number;
}

/**
 * The dev stack is told fixed ports (it starts nats-server and the registry on the addresses it is configured
 * with, or uses whatever answers there), and another test may take a port picked free before the stack binds
 * it. So: start on fresh ports again when a bind failed or when something else already answered at one.
 */
async function startStackOnFreePorts(dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; output: string[]; ports: StackPorts }> {
  for (let attempt = 1; ; attempt++) {
    const ports = { nats: await freeLoopbackPort(), registry: await freeLoopbackPort(), http: await freeLoopbackPort() };
    const env = {
      POWERNODE_DATA_DIR: dataDir,
      NATS_URL: `nats://127.0.0.1:${ports.nats}`,
      OCI_REGISTRY: `127.0.0.1:${ports.registry}`,
      PORT: String(ports.http),
      POWERNODE_ADMIN_TOKEN: '',
      ...extraEnv,
    };
    let started: { child: ChildProcess; output: string[] };
    try {
      started = await startStack(env);
    } catch (error) {
      if (attempt < 5 && isAddressInUse(String((error as { output?: unknown }).output ?? ''))) continue;
      throw error;
    }
    const text = started.output.join('');
    if (attempt < 5 && (text.includes('using NATS at') || text.includes('using OCI registry at'))) {
      await stopStack(started.child);
      continue;
    }
    return { ...started, ports };
  }
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
    const first = await startStackOnFreePorts(dataDir);
    const { nats: natsPort, registry: registryPort, http: httpPort } = first.ports;
    const url = `http://127.0.0.1:${httpPort}`;
    const text = first.output.join('');
    expect(text).toContain(`starting nats-server (JetStream) on 127.0.0.1:${natsPort}`);
    // The NATS it starts knows one user per service and nobody else: anything that reaches the port without a
    // password cannot send the services' requests.
    expect(text).toContain('one user per service');
    await expect(natsConnect({ servers: `127.0.0.1:${natsPort}`, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    for (const user of ['catalog', 'ingest', 'provisioner', 'gateway', 'operator']) {
      expect((await stat(path.join(dataDir, 'nats-auth', `${user}.password`))).mode & 0o777).toBe(0o600);
    }
    const operatorPassword = (await readFile(path.join(dataDir, 'nats-auth', 'operator.password'), 'utf8')).trim();
    await (await natsConnect({ servers: `127.0.0.1:${natsPort}`, reconnect: false, user: 'operator', pass: operatorPassword })).close();
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
      body: JSON.stringify({
        name: 'survives-restart',
        category: 'userland',
        variety: 'subscription',
        gitea_repo_full_name: 'acme/survives',
        cosign_identity_regexp: '.*',
        cosign_issuer_regexp: '.*',
      }),
    });
    expect(created.status).toBe(201);

    expect(await stopStack(first.child)).toBe(0);
    expect(await portOpen(httpPort)).toBe(false);
    expect(await portOpen(natsPort)).toBe(false);
    expect(await portOpen(registryPort)).toBe(false);

    // The state lives in the data directory, so the restarted stack finds it whichever ports it gets.
    const second = await startStackOnFreePorts(dataDir);
    const secondUrl = `http://127.0.0.1:${second.ports.http}`;
    expect((await readFile(tokenFile, 'utf8')).trim()).toBe(token);
    const again = await fetch(`${secondUrl}/api/v1/system/modules/survives-restart`, { headers: { authorization: `Bearer ${token}` } });
    expect(again.status).toBe(200);
    const templates = (await (await fetch(`${secondUrl}/api/v1/system/templates`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      templates: { name: string }[];
    };
    expect(templates.templates.map((t) => t.name).sort()).toEqual(['base', 'hardened']);
    expect(await stopStack(second.child)).toBe(0);
  }, 240_000);

  it('refuses a bad configuration value with one line naming the variable', async () => {
    const child = spawn(process.execPath, [path.join(root, 'bin/powernode.mjs'), 'dev'], {
      cwd: root,
      env: { ...process.env, PORT: 'not-a-port' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(1);
    expect(err).toContain('PORT');
  });

  it("refuses PORT=0: the agents it starts are told the gateway's port before the gateway binds one", async () => {
    const child = spawn(process.execPath, [path.join(root, 'bin/powernode.mjs'), 'dev'], {
      cwd: root,
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(1);
    expect(err).toContain('PORT: powernode dev needs a fixed port for the gateway');
  });

  it('runs POWERNODE_REPLICAS catalogs and ingests, and keeps relaying and answering when the relaying catalog is killed', async () => {
    const replicaDir = await mkdtemp(path.join(tmpdir(), 'pn-dev-replicas-'));
    const stack = await startStackOnFreePorts(replicaDir, { POWERNODE_REPLICAS: '2' });
    try {
      const url = `http://127.0.0.1:${stack.ports.http}`;
      const text = () => stack.output.join('');
      expect(text()).toContain('2 replicas of catalog and ingest');
      for (const name of ['catalog-1', 'catalog-2', 'ingest-1', 'ingest-2']) expect(text()).toMatch(new RegExp(`${name}\\s+\\|`));
      const token = (await readFile(path.join(replicaDir, 'admin-token'), 'utf8')).trim();
      const auth = { authorization: `Bearer ${token}` };
      type Bus = { bus: { relay: { holder: string | null; lag_events: number | null } } };
      const bus = async () => ((await (await fetch(`${url}/readyz`, { headers: auth })).json()) as Bus).bus;
      const holder = (await waitFor(async () => (await bus()).relay.holder, 'a catalog to hold the relay lease'))!;
      expect(holder).toMatch(/^catalog-/);

      // SIGKILL the relaying catalog: the other takes the lease, and the killed one is started again.
      process.kill(Number(holder.split('-').at(-1)), 'SIGKILL');
      const next = await waitFor(async () => {
        const h = (await bus()).relay.holder;
        return h !== null && h !== holder ? h : undefined;
      }, 'the other catalog to take the relay lease');
      expect(next).toMatch(/^catalog-/);
      const created = await fetch(`${url}/api/v1/system/modules`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'after-failover',
          category: 'userland',
          variety: 'subscription',
          gitea_repo_full_name: 'acme/after-failover',
          cosign_identity_regexp: '.*',
          cosign_issuer_regexp: '.*',
        }),
      });
      expect(created.status).toBe(201);
      await waitFor(async () => ((await bus()).relay.lag_events === 0 ? true : undefined), 'the new holder to relay the new events');
      await waitFor(async () => (/exited \(SIGKILL\)[\s\S]*catalog ready/.test(text()) ? true : undefined), 'the killed catalog to be started again');
    } finally {
      expect(await stopStack(stack.child)).toBe(0);
      await rm(replicaDir, { recursive: true, force: true });
    }
  }, 240_000);
});
