// The registry proxy in the modes agent and platform tests switch between: passing everything, down
// (connections dropped, as a registry that is down), or stalling one blob part-way (so an agent can be killed
// in the middle of a pull).
import { startRegistryProxy, type ProxyPlan, type RegistryProxy } from './registry-proxy.js';

export type GateMode = { kind: 'open' } | { kind: 'down' } | { kind: 'stall_blob'; digest: string; afterBytes: number };

export interface RegistryGate {
  /** `127.0.0.1:<port>`: the registry host agents are given. */
  host: string;
  /** Switches mode; `open` also breaks a stalled blob. */
  setMode(mode: GateMode): void;
  /** Requests seen (method and path) with what was done. */
  seen: RegistryProxy['seen'];
  /** Resolves once a stalled blob has sent its first `afterBytes` bytes. */
  stalled(): Promise<void>;
  stop(): Promise<void>;
}

function planOf(mode: GateMode): ProxyPlan {
  switch (mode.kind) {
    case 'open':
      return () => ({ kind: 'forward' });
    case 'down':
      return () => ({ kind: 'drop' });
    case 'stall_blob':
      return (req) =>
        req.method === 'GET' && (req.url ?? '').endsWith(`/blobs/${mode.digest}`) ? { kind: 'stall_body', afterBytes: mode.afterBytes } : { kind: 'forward' };
    default:
      return mode satisfies never;
  }
}

/** Starts the gate, open, on a free loopback port in front of `target` (`host:port`). */
export async function startRegistryGate(target: string): Promise<RegistryGate> {
  const proxy = await startRegistryProxy(target);
  return {
    host: proxy.host,
    seen: proxy.seen,
    setMode(mode) {
      proxy.setPlan(planOf(mode));
      if (mode.kind === 'open') proxy.release();
    },
    stalled: async () => {
      await proxy.held();
    },
    stop: () => proxy.stop(),
  };
}
