import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isPowernodeError, PowernodeError } from '@powernode/contracts';
import { MAX_REDIRECTS, OciClient, sha256Digest, urlIsOnRegistry, type HopCheck } from './index.js';

/*
 * Where a registry can send the client: redirects, token services and error bodies, against small scripted
 * HTTP servers on loopback (the registry at 127.0.0.1, "another host" at localhost), and a scripted fetch
 * for https hosts that cannot be served here.
 */

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

interface ScriptedServer {
  /** `127.0.0.1:<port>` */
  host: string;
  port: number;
  seen: Seen[];
  stop(): Promise<void>;
}

const servers: ScriptedServer[] = [];

async function serve(answer: (req: IncomingMessage, res: ServerResponse, port: number) => void): Promise<ScriptedServer> {
  const seen: Seen[] = [];
  let port = 0;
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    answer(req, res, port);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  const started = {
    host: `127.0.0.1:${port}`,
    port,
    seen,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  servers.push(started);
  return started;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

const errorOf = async (run: () => Promise<unknown>): Promise<PowernodeError> => {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isPowernodeError(error)) throw new Error(`expected a PowernodeError, got ${String(error)}`);
  return error;
};

/** Allows only the given `host[:port]` entries, as ingest's allowlist does. */
const allowOnly =
  (...entries: string[]): HopCheck =>
  (url, hop) => {
    if (!entries.some((entry) => urlIsOnRegistry(url, entry))) throw new PowernodeError('registry_not_allowed', `${url.host} (${hop}) is not allowed`);
  };

const BLOB = Buffer.from('the blob');
const BLOB_DIGEST = sha256Digest(BLOB);
const CREDENTIALS = { username: 'ci', password: 'hunter2-secret' };

describe('redirects', () => {
  test('a redirect to a host the check refuses is not followed: registry_not_allowed, and that host sees nothing', async () => {
    const internal = await serve((_req, res) => res.writeHead(200).end('internal metadata'));
    const registry = await serve((_req, res) => res.writeHead(307, { location: `http://localhost:${internal.port}/latest/meta-data` }).end());
    const client = new OciClient({ registry: registry.host, insecure: true, retries: 0, checkHop: allowOnly(registry.host) });

    const error = await errorOf(() => client.getBlob('acme/mod', BLOB_DIGEST));
    expect(error.code).toBe('registry_not_allowed');
    expect(error.message).toContain(`localhost:${internal.port}`);
    expect(internal.seen).toEqual([]);
    expect(registry.seen).toHaveLength(1);
  });

  test('every hop is checked, not only the first: an allowed storage host that redirects onwards is stopped there', async () => {
    const internal = await serve((_req, res) => res.writeHead(200).end('internal'));
    const storage = await serve((_req, res) => res.writeHead(302, { location: `http://localhost:${internal.port}/admin` }).end());
    const registry = await serve((_req, res) => res.writeHead(307, { location: `http://${storage.host}/blob` }).end());
    const client = new OciClient({ registry: registry.host, insecure: true, retries: 0, checkHop: allowOnly(registry.host, storage.host) });

    await expect(client.getBlob('acme/mod', BLOB_DIGEST)).rejects.toMatchObject({ code: 'registry_not_allowed' });
    expect(storage.seen).toHaveLength(1);
    expect(internal.seen).toEqual([]);
  });

  test('an allowed redirect is followed, without the credentials when it leaves the registry', async () => {
    const storage = await serve((_req, res) => res.writeHead(200, { 'content-length': String(BLOB.length) }).end(BLOB));
    const registry = await serve((req, res) => {
      if (req.headers.authorization === undefined) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
      res.writeHead(307, { location: `http://localhost:${storage.port}/blob?signed=1` }).end();
    });
    const client = new OciClient({
      registry: registry.host,
      insecure: true,
      retries: 0,
      auth: CREDENTIALS,
      checkHop: allowOnly(registry.host, `localhost:${storage.port}`),
    });

    expect((await client.getBlob('acme/mod', BLOB_DIGEST)).equals(BLOB)).toBe(true);
    expect(storage.seen).toHaveLength(1);
    expect(storage.seen[0]!.headers.authorization).toBeUndefined();
  });

  test('a redirect loop ends after MAX_REDIRECTS hops with registry_error, not retried', async () => {
    const registry = await serve((req, res) => res.writeHead(302, { location: `${req.url}x` }).end());
    const client = new OciClient({ registry: registry.host, insecure: true, retries: 3, retryDelayMs: 1 });

    const error = await errorOf(() => client.ping());
    expect(error).toMatchObject({ code: 'registry_error', retryable: false });
    expect(error.message).toMatch(/more than 5 redirects/);
    expect(registry.seen).toHaveLength(MAX_REDIRECTS + 1);
  });

  test('https never steps down to plain http, even without a check', async () => {
    const requested: string[] = [];
    const fetchScript: typeof fetch = async (input) => {
      const url = String(input);
      requested.push(url);
      return new Response(null, { status: 302, headers: { location: 'http://registry.example/v2/' } });
    };
    const client = new OciClient({ registry: 'registry.example', retries: 0, fetch: fetchScript });
    await expect(client.ping()).rejects.toMatchObject({ code: 'registry_not_allowed', message: expect.stringMatching(/from https to plain http/) });
    expect(requested).toEqual(['https://registry.example/v2/']);
  });
});

describe('token services', () => {
  /** A registry that demands a bearer token from `realm`, and accepts any token it is then given. */
  const tokenRegistry = (realm: () => string) =>
    serve((req, res) => {
      if ((req.headers.authorization ?? '').startsWith('Bearer ')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm()}",service="test"` }).end();
    });
  const tokenService = () =>
    serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'issued', expires_in: 300 })));

  test('a token service on another host gets no Basic credentials', async () => {
    const tokens = await tokenService();
    const registry = await tokenRegistry(() => `http://localhost:${tokens.port}/token`);
    const client = new OciClient({ registry: registry.host, insecure: true, retries: 0, auth: CREDENTIALS });

    await client.ping();
    expect(tokens.seen).toHaveLength(1);
    expect(tokens.seen[0]!.headers.authorization).toBeUndefined();
  });

  test('a token service on the registry host (loopback, another port) gets them', async () => {
    const tokens = await tokenService();
    const registry = await tokenRegistry(() => `http://127.0.0.1:${tokens.port}/token`);
    const client = new OciClient({ registry: registry.host, insecure: true, retries: 0, auth: CREDENTIALS });

    await client.ping();
    expect(tokens.seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from('ci:hunter2-secret').toString('base64')}`);
  });

  test('a token service the check refuses is never asked: registry_not_allowed', async () => {
    const tokens = await tokenService();
    const registry = await tokenRegistry(() => `http://localhost:${tokens.port}/token`);
    const client = new OciClient({ registry: registry.host, insecure: true, retries: 0, auth: CREDENTIALS, checkHop: allowOnly(registry.host) });

    await expect(client.ping()).rejects.toMatchObject({ code: 'registry_not_allowed' });
    expect(tokens.seen).toEqual([]);
  });

  describe('on https registries (scripted fetch)', () => {
    /** The Authorization header each token request carried, for a registry at registry.example naming `realm`. */
    async function tokenRequestAuthorization(realm: string): Promise<Array<string | null>> {
      const sent: Array<string | null> = [];
      const fetchScript: typeof fetch = async (input, init) => {
        const url = new URL(String(input));
        const headers = new Headers(init?.headers);
        if (url.pathname === '/v2/') {
          return headers.get('authorization')?.startsWith('Bearer ')
            ? new Response('{}', { status: 200 })
            : new Response(null, { status: 401, headers: { 'www-authenticate': `Bearer realm="${realm}"` } });
        }
        sent.push(headers.get('authorization'));
        return new Response(JSON.stringify({ token: 't' }), { status: 200 });
      };
      await new OciClient({ registry: 'registry.example', retries: 0, auth: CREDENTIALS, fetch: fetchScript }).ping();
      return sent;
    }

    test('the registry host over https gets the credentials', async () => {
      expect(await tokenRequestAuthorization('https://registry.example/token')).toEqual([expect.stringMatching(/^Basic /)]);
    });

    test('the registry host over plain http does not', async () => {
      expect(await tokenRequestAuthorization('http://registry.example/token')).toEqual([null]);
    });

    test('another host over https does not', async () => {
      expect(await tokenRequestAuthorization('https://auth.attacker.example/token')).toEqual([null]);
    });
  });
});

describe('error bodies', () => {
  const SECRET = 'AKIAIOSFODNN7EXAMPLE password=hunter2';

  test.each([
    ['a distribution error body', 400, JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: SECRET, detail: SECRET }] })],
    ['a proxy page', 403, `<html>${SECRET}</html>`],
    ['an internal service answering 500', 500, `{"error":"${SECRET}"}`],
  ])('%s: the status and the distribution codes are kept, the text is not', async (_what, status, body) => {
    const registry = await serve((_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end(body));
    const client = new OciClient({ registry: registry.host, insecure: true, retries: 0 });

    const error = await errorOf(() => client.getManifest('acme/mod', 'v1.0.0'));
    expect(error.message).toContain(String(status));
    const everything = JSON.stringify({ message: error.message, details: error.details });
    expect(everything).not.toContain('AKIA');
    expect(everything).not.toContain('hunter2');
    if (status === 400) expect(error.details).toMatchObject({ registry_codes: ['MANIFEST_INVALID'] });
  });

  test('a token service refusal does not repeat its body either', async () => {
    const tokens = await serve((_req, res) => res.writeHead(401, { 'content-type': 'text/plain' }).end(SECRET));
    const registry = await serve((_req, res) => res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${tokens.port}/token"` }).end());
    const client = new OciClient({ registry: registry.host, insecure: true, retries: 0, auth: CREDENTIALS });

    const error = await errorOf(() => client.ping());
    expect(error.code).toBe('unauthenticated');
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toMatch(/AKIA|hunter2/);
  });
});
