import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A pass-through HTTP proxy in front of a test registry that holds back requests matching `hold` until
 * `open()` is called: a pull can be caught half-way, deterministically.
 */
export interface RegistryGate {
  host: string;
  /** Resolves when the first held request arrives. */
  held: Promise<string>;
  /** Lets held and future requests through. */
  open(): void;
  stop(): Promise<void>;
}

/** Starts the gate on a free loopback port in front of `target` (`host:port`). */
export async function startRegistryGate(target: string, hold: (request: IncomingMessage) => boolean): Promise<RegistryGate> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  let isOpen = false;
  const waiting: Array<() => void> = [];
  let announce: (url: string) => void = () => undefined;
  const held = new Promise<string>((resolve) => (announce = resolve));
  const forward = (req: IncomingMessage, res: import('node:http').ServerResponse): void => {
    const upstream = httpRequest({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers }, (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  };
  const server: Server = createServer((req, res) => {
    res.on('error', () => undefined);
    if (!isOpen && hold(req)) {
      announce(req.url ?? '');
      waiting.push(() => forward(req, res));
      return;
    }
    forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    held,
    open() {
      isOpen = true;
      for (const release of waiting.splice(0)) release();
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
