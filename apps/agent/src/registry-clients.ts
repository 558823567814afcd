import { OciClient } from '@powernode/oci';

/** How the agent reaches registries. */
export interface RegistryClientsOptions {
  /** Registries reached over plain HTTP besides loopback ones. */
  insecure: readonly string[];
  /** Extra attempts per request (5xx, 429, connection errors). */
  retries: number;
  fetch?: typeof fetch;
}

/** True for registries on this machine, which are reached over plain HTTP. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(0, registry.indexOf(']') + 1) : registry.split(':')[0]!;
  return host === 'localhost' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** One OCI client per registry host named by the desired state; pulls are anonymous. */
export class RegistryClients {
  private readonly clients = new Map<string, OciClient>();

  constructor(private readonly options: RegistryClientsOptions) {}

  /** The client for `registry` (`host[:port]`). */
  clientFor(registry: string): OciClient {
    const existing = this.clients.get(registry);
    if (existing !== undefined) return existing;
    const client = new OciClient({
      registry,
      insecure: isLoopbackRegistry(registry) || this.options.insecure.includes(registry),
      retries: this.options.retries,
      retryDelayMs: 200,
      maxRetryDelayMs: 2_000,
      userAgent: 'powernode-agent/0.1',
      ...(this.options.fetch === undefined ? {} : { fetch: this.options.fetch }),
    });
    this.clients.set(registry, client);
    return client;
  }
}
