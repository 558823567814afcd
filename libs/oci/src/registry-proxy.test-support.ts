// A real HTTP proxy in front of a test registry that misbehaves on purpose, request by request: answers
// with an error status, drops the connection, or cuts a response body short.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does with one request. */
export type ProxyAction =
  | { kind: 'forward'; addHeaders?: Record<string, string> }
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'drop' }
  | { kind: 'cut_body'; afterBytes: number }
  | { kind: 'short_body'; bytes: number };

/** Decides the fate of the `index`-th request (0-based) the proxy sees. */
export type ProxyPlan = (request: IncomingMessage, index: number) => ProxyAction;

export interface MisbehavingProxy {
  host: string;
  /** Every request seen, in order, with what was done to it. */
  seen: Array<{ method: string; url: string; action: ProxyAction['kind'] }>;
  stop(): Promise<void>;
}

/** Starts the proxy on a free loopback port in front of `target` (`host:port`). */
export async function startMisbehavingProxy(target: string, plan: ProxyPlan): Promise<MisbehavingProxy> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const seen: MisbehavingProxy['seen'] = [];
  const server: Server = createServer((req, res) => {
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
      case 'forward':
      case 'cut_body':
      case 'short_body': {
        // The Host header is kept so the registry's absolute Location URLs point back at the proxy.
        const upstream = httpRequest(
          { host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers },
          (upstreamRes) => {
            if (action.kind === 'forward') {
              res.writeHead(upstreamRes.statusCode ?? 502, { ...upstreamRes.headers, ...action.addHeaders });
              upstreamRes.pipe(res);
              return;
            }
            const headers = { ...upstreamRes.headers };
            if (action.kind === 'short_body') delete headers['content-length']; // chunked, ends cleanly but early
            res.writeHead(upstreamRes.statusCode ?? 502, headers);
            let sent = 0;
            const limit = action.kind === 'cut_body' ? action.afterBytes : action.bytes;
            upstreamRes.on('data', (chunk: Buffer) => {
              if (sent >= limit) return;
              const part = chunk.subarray(0, limit - sent);
              sent += part.length;
              res.write(part);
              if (sent >= limit) {
                upstreamRes.destroy();
                if (action.kind === 'cut_body') res.socket?.destroy();
                else res.end();
              }
            });
            upstreamRes.on('end', () => {
              if (sent < limit) res.end();
            });
          },
        );
        upstream.on('error', () => res.socket?.destroy());
        req.pipe(upstream);
        return;
      }
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
