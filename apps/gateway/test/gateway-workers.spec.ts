import { request } from 'node:http';
import { startPlatform, type TestPlatform } from '@powernode/testing';

/** One request on a connection of its own, so the cluster hands each to the next worker in turn. */
function onNewConnection(url: string, options: { method?: string; token?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...(payload ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const workerPids = (platform: TestPlatform): Set<number> =>
  new Set(
    platform.services
      .get('gateway')!
      .lines.filter((l) => l.includes('gateway listening'))
      .map((l) => (JSON.parse(l) as { pid: number }).pid),
  );

describe('gateway workers (POWERNODE_GATEWAY_WORKERS=2)', () => {
  let platform: TestPlatform;
  const api = (path: string) => `${platform.url}/api/v1/system${path}`;

  beforeAll(async () => {
    platform = await startPlatform({ services: ['catalog', 'gateway'], env: { POWERNODE_GATEWAY_WORKERS: '2' } });
    const gateway = platform.services.get('gateway')!;
    await gateway.waitForLog(() => workerPids(platform).size === 2, 60_000);
  }, 120_000);
  afterAll(() => platform?.stop());

  it('serves every connection from one of two worker processes sharing the port', async () => {
    expect(workerPids(platform).size).toBe(2);
    const answers = await Promise.all(Array.from({ length: 8 }, () => onNewConnection(`${platform.url}/healthz`)));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
  });

  it('accepts a token issued through one worker on every connection at once, and shows a write to every reader', async () => {
    const created = await onNewConnection(api('/tokens'), { method: 'POST', token: platform.adminToken, body: { role: 'operator', name: 'spread' } });
    expect(created.status).toBe(201);
    const registered = await onNewConnection(api('/modules'), {
      method: 'POST',
      token: created.body.token,
      body: {
        name: 'spread-module',
        category: 'userland',
        variety: 'subscription',
        gitea_repo_full_name: 'acme/spread',
        cosign_identity_regexp: '.*',
        cosign_issuer_regexp: '.*',
      },
    });
    expect(registered.status).toBe(201);
    const reads = [];
    for (let i = 0; i < 6; i++) reads.push(await onNewConnection(api('/modules/spread-module'), { token: created.body.token }));
    expect(reads.map((r) => [r.status, r.body.module?.name])).toEqual(Array(6).fill([200, 'spread-module']));
    const unknown = await onNewConnection(api('/modules'), { token: 'pn_operator_never-issued-token-value' });
    expect(unknown.status).toBe(401);
  });

  it('replaces a worker that dies, and keeps answering meanwhile', async () => {
    const gateway = platform.services.get('gateway')!;
    const [victim] = [...workerPids(platform)];
    process.kill(victim!, 'SIGKILL');
    await gateway.waitForLog((l) => l.includes('gateway worker exited; starting another'), 10_000);
    const during = await onNewConnection(`${platform.url}/healthz`);
    expect(during.status).toBe(200);
    await gateway.waitForLog(() => workerPids(platform).size === 3, 60_000);
    const after = await Promise.all(Array.from({ length: 4 }, () => onNewConnection(api('/templates'), { token: platform.adminToken })));
    expect(after.map((a) => a.status)).toEqual([200, 200, 200, 200]);
  });

  it('stops every worker on SIGTERM', async () => {
    const gateway = platform.services.get('gateway')!;
    const alive = [...workerPids(platform)].filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toHaveLength(2);
    expect(await gateway.stop()).toBe(0);
    for (const pid of alive) expect(() => process.kill(pid, 0)).toThrow();
    expect(gateway.lines.some((l) => l.includes('gateway workers stopped'))).toBe(true);
  });
});
