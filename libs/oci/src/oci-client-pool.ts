import { OciClient, type OciClientOptions } from './oci-client.js';
import { isLoopbackHost } from './registry-hops.js';
import type { RegistryAuth } from './registry-transport.js';

/** True for registries on this machine (loopback), which are reached over plain HTTP like docker and oras do. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(0, registry.indexOf(']') + 1) : registry.split(':')[0]!;
  return isLoopbackHost(host);
}

export interface OciClientPoolOptions extends Omit<OciClientOptions, 'registry' | 'insecure' | 'auth'> {
  /** Registries reached over plain HTTP besides loopback ones. */
  insecure?: readonly string[];
  /** Credentials for a registry, or undefined to pull anonymously (credentials never go to other registries). */
  authFor?: (registry: string) => RegistryAuth | undefined;
  /** Throws when the registry may not be used; called once per registry, before a client is made. */
  admit?: (registry: string) => void;
}

/** One OCI client per registry host (`host[:port]`), made on first use with that registry's transport settings. */
export class OciClientPool {
  private readonly clients = new Map<string, OciClient>();

  constructor(private readonly options: OciClientPoolOptions = {}) {}

  /** The client for `registry`. */
  clientFor(registry: string): OciClient {
    const existing = this.clients.get(registry);
    if (existing !== undefined) return existing;
    const { insecure = [], authFor, admit, ...clientOptions } = this.options;
    admit?.(registry);
    const auth = authFor?.(registry);
    const client = new OciClient({
      ...clientOptions,
      registry,
      insecure: isLoopbackRegistry(registry) || insecure.includes(registry),
      ...(auth === undefined ? {} : { auth }),
    });
    this.clients.set(registry, client);
    return client;
  }
}
