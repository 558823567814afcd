// A real HTTP proxy in front of a test registry that misbehaves on purpose, request by request: answers with an
// error status, drops the connection, cuts a body short, stalls a body part-way, or holds a request back.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does with one request. */
export type ProxyAction =
  | { kind: 'forward'; addHeaders?: Record<string, string> }
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'drop' }
  /** Sends the first `afterBytes` of the body, then breaks the connection. */
  | { kind: 'cut_body'; afterBytes: number }
  /** Sends the first `bytes` of the body chunked, then ends cleanly but early. */
  | { kind: 'short_body'; bytes: number }
  /** Sends the first `afterBytes` of the body, then holds the response open until `release()`. */
  | { kind: 'stall_body'; afterBytes: number }
  /** Forwards the request only once `release()` is called. */
  | { kind: 'hold' };

/** Decides the fate of the `index`-th request (0-based) the proxy sees. */
export type ProxyPlan = (request: IncomingMessage, index: number) => ProxyAction;

export interface RegistryProxy {
  /** `127.0.0.1:<port>`: the registry host clients are given. */
  host: string;
  /** Every request seen, in order, with what was done to it. */
  seen: Array<{ method: string; url: string; action: ProxyAction['kind'] }>;
  /** Decides the requests from now on. */
  setPlan(plan: ProxyPlan): void;
  /** Resolves with the URL of the first request held, or whose body stalled. */
  held(): Promise<string>;
  /** Forwards the held requests and breaks the stalled responses. */
  release(): void;
  stop(): Promise<void>;
}

const forwardEverything: ProxyPlan = () => ({ kind: 'forward' });

/** Starts the proxy on a free loopback port in front of `target` (`host:port`), forwarding until told otherwise. */
export async function startRegistryProxy(target: string, initialPlan: ProxyPlan = forwardEverything): Promise<RegistryProxy> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  let plan = initialPlan;
  const seen: RegistryProxy['seen'] = [];
  const heldRequests: Array<() => void> = [];
  const stalled = new Set<ServerResponse>();
  let announceHeld: (url: string) => void = () => undefined;
  const firstHeld = new Promise<string>((resolve) => (announceHeld = resolve));

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    action: Extract<ProxyAction, { kind: 'forward' | 'cut_body' | 'short_body' | 'stall_body' }>,
  ): void => {
    // The Host header is kept so the registry's absolute Location URLs point back at the proxy.
    const upstream = httpRequest({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers }, (upstreamRes) => {
      if (action.kind === 'forward') {
        res.writeHead(upstreamRes.statusCode ?? 502, { ...upstreamRes.headers, ...action.addHeaders });
        upstreamRes.pipe(res);
        return;
      }
      const headers = { ...upstreamRes.headers };
      if (action.kind === 'short_body') delete headers['content-length']; // chunked, ends cleanly but early
      res.writeHead(upstreamRes.statusCode ?? 502, headers);
      let sent = 0;
      const limit = action.kind === 'short_body' ? action.bytes : action.afterBytes;
      upstreamRes.on('data', (chunk: Buffer) => {
        if (sent >= limit) return;
        const part = chunk.subarray(0, limit - sent);
        sent += part.length;
        res.write(part);
        if (sent < limit) return;
        upstreamRes.destroy();
        if (action.kind === 'cut_body') res.socket?.destroy();
        else if (action.kind === 'short_body') res.end();
        else {
          stalled.add(res);
          announceHeld(req.url ?? '');
        }
      });
      upstreamRes.on('end', () => {
        if (sent < limit) res.end();
      });
    });
    upstream.on('error', () => res.socket?.destroy());
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    res.on('error', () => undefined);
    const action = plan(req, seen.length);
    seen.push({ method: req.method ?? '', url: req.url ?? '', action: action.kind });
    switch (action.kind) {
      case 'status':
        req.resume();
        res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers });
        res.end(action.body ?? JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected failure' }] }));
        return;
      case 'drop':
        req.resume();
        req.socket.destroy();
        return;
      case 'hold':
        heldRequests.push(() => forward(req, res, { kind: 'forward' }));
        announceHeld(req.url ?? '');
        return;
      case 'forward':
      case 'cut_body':
      case 'short_body':
      case 'stall_body':
        forward(req, res, action);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    seen,
    setPlan(next) {
      plan = next;
    },
    held: () => firstHeld,
    release() {
      for (const letThrough of heldRequests.splice(0)) letThrough();
      for (const res of stalled) res.socket?.destroy();
      stalled.clear();
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
