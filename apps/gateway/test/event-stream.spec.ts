import { startPlatform, type TestPlatform } from '@powernode/testing';
import { SseParser, type ServerSentEvent } from '../../web/src/live/sse-parser.js';

/*
 * The live event log over HTTP against the real services: what an open page of the web UI reads. Appends made
 * through the API arrive on an open stream, a reconnect with Last-Event-ID resumes exactly after that
 * position, and roles other than admin never see what only an administrator may read.
 */

let p: TestPlatform;

beforeAll(async () => {
  p = await startPlatform({ services: ['catalog', 'gateway'] });
}, 120_000);

afterAll(async () => {
  await p?.stop();
}, 60_000);

const api = async (method: string, route: string, body?: unknown, token = p.adminToken) => {
  const res = await fetch(`${p.url}/api/v1/system${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};

/** An open stream: its events as they arrive, and a way to wait for one. */
async function openStream(headers: Record<string, string>) {
  const abort = new AbortController();
  const res = await fetch(`${p.url}/api/v1/system/events/stream`, { headers, signal: abort.signal });
  const received: ServerSentEvent[] = [];
  const parser = new SseParser();
  const pump = (async () => {
    if (!res.body) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        received.push(...parser.push(value));
      }
    } catch {
      // aborted
    }
  })();
  return {
    res,
    received,
    async waitFor(match: (e: any) => boolean, ms = 5000): Promise<any> {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const hit = received.map((r) => JSON.parse(r.data)).find(match);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no matching event within ${ms} ms; got ${received.map((r) => JSON.parse(r.data).type).join(', ')}`);
    },
    /** Resolves when the server ends the stream. */
    ended: pump,
    async close() {
      abort.abort();
      await pump;
    },
  };
}

const moduleInput = (name: string) => ({
  name,
  category: 'userland',
  variety: 'subscription',
  gitea_repo_full_name: `acme/${name}`,
  cosign_identity_regexp: 'https://example\\.com/.*',
  cosign_issuer_regexp: 'https://example\\.com',
});

describe('GET /api/v1/system/events/stream', () => {
  it('refuses a request without a valid bearer token with 401 problem+json', async () => {
    const res = await fetch(`${p.url}/api/v1/system/events/stream`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await fetch(`${p.url}/api/v1/system/events/stream`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
  });

  it('delivers an event appended through the API to an open stream, with its global position as the id', async () => {
    const stream = await openStream({ authorization: `Bearer ${p.adminToken}` });
    try {
      expect(stream.res.status).toBe(200);
      expect(stream.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const started = performance.now();
      const created = await api('POST', '/modules', moduleInput('stream-live'));
      expect(created.status).toBe(201);
      const event = await stream.waitFor((e) => e.type === 'ModuleRegistered' && e.data.name === 'stream-live');
      expect(performance.now() - started).toBeLessThan(2000);
      const raw = stream.received.find((r) => JSON.parse(r.data).id === event.id)!;
      expect(raw).toMatchObject({ event: 'log', id: String(event.position) });
      expect(event.stream).toMatch(/^module-/);
      expect(event.actor).toBe('bootstrap-admin');
    } finally {
      await stream.close();
    }
  });

  it('resumes after Last-Event-ID: exactly the events after that position, in log order', async () => {
    await api('POST', '/modules', moduleInput('stream-resume-a'));
    const log = await api('GET', '/events?from=0&limit=1000');
    const all = log.body.events as { position: number; id: string }[];
    expect(log.body.head).toBe(all[all.length - 1]!.position);
    const cut = all[all.length - 3]!.position;
    const stream = await openStream({ authorization: `Bearer ${p.adminToken}`, 'last-event-id': String(cut) });
    try {
      await stream.waitFor((e) => e.id === all[all.length - 1]!.id);
      const positions = stream.received.map((r) => Number(r.id));
      expect(positions.slice(0, 2)).toEqual(all.filter((e) => e.position > cut).map((e) => e.position));
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    } finally {
      await stream.close();
    }
  });

  it('refuses a Last-Event-ID that is not a log position', async () => {
    const res = await fetch(`${p.url}/api/v1/system/events/stream`, { headers: { authorization: `Bearer ${p.adminToken}`, 'last-event-id': 'abc' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('validation_failed');
  });

  it('gives a viewer every event but withholds the data only an administrator reads', async () => {
    const viewer = await api('POST', '/tokens', { role: 'viewer', name: 'stream-viewer' });
    expect(viewer.status).toBe(201);
    const stream = await openStream({ authorization: `Bearer ${viewer.body.token}`, 'last-event-id': '0' });
    try {
      const token = await stream.waitFor((e) => e.type === 'TokenCreated');
      expect(token).toMatchObject({ data: null, data_withheld: true });
      const registered = await stream.waitFor((e) => e.type === 'ModuleRegistered');
      expect(registered.data).toBeNull();
      expect(stream.received.some((r) => r.data.includes('token_sha256') || r.data.includes('webhook_secret'))).toBe(false);
    } finally {
      await stream.close();
    }
  });
});

describe('the web UI under /app', () => {
  it('answers index.html for client routes, hashed assets compressed, and 404 for a missing asset', async () => {
    const page = await fetch(`${p.url}/app/system/modules/anything`, { headers: { 'accept-encoding': 'gzip' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    const script = /src="(\/app\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${p.url}${script}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-encoding')).toBe('gzip');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${p.url}/app/assets/missing-123.js`)).status).toBe(404);
    expect((await fetch(`${p.url}/app`, { redirect: 'manual' })).status).toBe(308);
    const root = await fetch(`${p.url}/app/`, { redirect: 'manual' });
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('GET /whoami names the caller, the role and its permissions', async () => {
    const me = await api('GET', '/whoami');
    expect(me.body).toMatchObject({ name: 'bootstrap-admin', role: 'admin', permissions: ['read', 'change', 'approve', 'admin'] });
    const viewer = await api('POST', '/tokens', { role: 'viewer', name: 'whoami-viewer' });
    expect((await api('GET', '/whoami', undefined, viewer.body.token)).body).toMatchObject({ name: 'whoami-viewer', role: 'viewer', permissions: ['read'] });
  });
});

describe('a gateway shutting down', () => {
  it('ends its open streams so it stops at once, and a client resumes after the restart where it left off', async () => {
    const stream = await openStream({ authorization: `Bearer ${p.adminToken}` });
    await api('POST', '/modules', moduleInput('stream-restart-a'));
    const seen = await stream.waitFor((e) => e.type === 'ModuleRegistered' && e.data.name === 'stream-restart-a');
    const gateway = p.services.get('gateway')!;
    const started = performance.now();
    expect(await gateway.stop()).toBe(0);
    expect(performance.now() - started).toBeLessThan(5_000);
    await stream.ended;
    await p.startService('gateway');
    await api('POST', '/modules', moduleInput('stream-restart-b'));
    const resumed = await openStream({ authorization: `Bearer ${p.adminToken}`, 'last-event-id': String(seen.position) });
    try {
      const next = await resumed.waitFor((e) => e.type === 'ModuleRegistered' && e.data.name === 'stream-restart-b');
      expect(Number(resumed.received[0]!.id)).toBe(seen.position + 1);
      expect(next.position).toBeGreaterThan(seen.position);
    } finally {
      await resumed.close();
    }
  }, 60_000);
});
