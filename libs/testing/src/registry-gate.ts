// A real HTTP proxy in front of the test registry that can be switched off (connections dropped, as a registry
// that is down) or made to stall one blob part-way (so an agent can be killed in the middle of a pull).
import { createServer, request as httpRequest, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type GateMode = { kind: 'open' } | { kind: 'down' } | { kind: 'stall_blob'; digest: string; afterBytes: number };

export interface RegistryGate {
  /** `127.0.0.1:<port>`: the registry host agents are given. */
  host: string;
  setMode(mode: GateMode): void;
  /** Requests seen (method and path) with what was done. */
  seen: Array<{ method: string; url: string; action: 'forwarded' | 'dropped' | 'stalled' }>;
  /** Resolves once a stalled blob has sent its first `afterBytes` bytes. */
  stalled(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the gate on a free loopback port in front of `target` (`host:port`). */
export async function startRegistryGate(target: string): Promise<RegistryGate> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  let mode: GateMode = { kind: 'open' };
  const seen: RegistryGate['seen'] = [];
  const sockets = new Set<Socket>();
  const held = new Set<ServerResponse>();
  let onStalled: (() => void) | undefined;
  let stalledOnce = false;

  const server = createServer((req, res) => {
    const current = mode;
    if (current.kind === 'down') {
      seen.push({ method: req.method ?? '', url: req.url ?? '', action: 'dropped' });
      req.resume();
      req.socket.destroy();
      return;
    }
    const stall = current.kind === 'stall_blob' && req.method === 'GET' && (req.url ?? '').endsWith(`/blobs/${current.digest}`);
    seen.push({ method: req.method ?? '', url: req.url ?? '', action: stall ? 'stalled' : 'forwarded' });
    const upstream = httpRequest({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers }, (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      if (!stall || current.kind !== 'stall_blob') {
        upstreamRes.pipe(res);
        return;
      }
      let sent = 0;
      upstreamRes.on('data', (chunk: Buffer) => {
        if (sent >= current.afterBytes) return;
        const part = chunk.subarray(0, current.afterBytes - sent);
        sent += part.length;
        res.write(part);
        if (sent >= current.afterBytes) {
          // Hold the response open without ever finishing it.
          upstreamRes.destroy();
          held.add(res);
          stalledOnce = true;
          onStalled?.();
        }
      });
    });
    upstream.on('error', () => res.socket?.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    seen,
    setMode(next) {
      mode = next;
      if (next.kind !== 'open') return;
      for (const res of held) res.socket?.destroy();
      held.clear();
    },
    stalled() {
      if (stalledOnce) return Promise.resolve();
      return new Promise((resolve) => {
        onStalled = resolve;
      });
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
