import net from 'node:net';

/** True when something accepts a TCP connection at host:port within the timeout. */
export function tcpAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when an OCI registry answers `GET /v2/` (200, or 401 for a registry that wants credentials). */
export async function registryAnswers(registry: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(`http://${registry}/v2/`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
}

/** Host and port of a `nats://host:port` URL (first server of a list). */
export function natsHostPort(natsUrl: string): { host: string; port: number } {
  const first = natsUrl.split(',')[0]!.trim();
  const url = new URL(first.includes('://') ? first : `nats://${first}`);
  return { host: url.hostname || '127.0.0.1', port: Number(url.port || 4222) };
}

/** Host and port of an `OCI_REGISTRY` value (`host[:port]`). */
export function registryHostPort(registry: string): { host: string; port: number } {
  const [host, port] = registry.split(':');
  return { host: host!, port: Number(port ?? 443) };
}
