import { PowernodeError } from '@powernode/contracts';
import { OciClient, type RegistryAuth } from '@powernode/oci';

export interface RegistryClientsOptions {
  /** `OCI_REGISTRY`: the only registry that gets `auth`. */
  defaultRegistry: string;
  auth?: RegistryAuth | undefined;
  /** Registries reached over plain HTTP besides loopback ones. */
  insecure: readonly string[];
  /** When non-empty, the only registries ingest pulls from. */
  allowed: readonly string[];
  /** Attempts per request beyond the first. */
  retries: number;
}

/** True for registries on this machine, which are reached over plain HTTP. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(0, registry.indexOf(']') + 1) : registry.split(':')[0]!;
  return host === 'localhost' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/**
 * One OCI client per registry host. Build reports name the registry, so credentials are only ever sent to
 * the configured `OCI_REGISTRY`; any other registry is pulled anonymously, and only if allowed.
 */
export class RegistryClients {
  private readonly clients = new Map<string, OciClient>();

  constructor(private readonly options: RegistryClientsOptions) {}

  /** The client for `registry`; refuses (`validation_failed`) a registry outside `INGEST_ALLOWED_REGISTRIES`. */
  clientFor(registry: string): OciClient {
    const existing = this.clients.get(registry);
    if (existing !== undefined) return existing;
    const { allowed, defaultRegistry, auth } = this.options;
    if (allowed.length > 0 && !allowed.includes(registry)) {
      throw new PowernodeError('validation_failed', `registry ${registry} is not one ingest may pull from (INGEST_ALLOWED_REGISTRIES: ${allowed.join(', ')}); push the module there or allow the registry`, {
        details: { registry, allowed },
      });
    }
    const client = new OciClient({
      registry,
      insecure: isLoopbackRegistry(registry) || this.options.insecure.includes(registry),
      ...(registry === defaultRegistry && auth !== undefined ? { auth } : {}),
      retries: this.options.retries,
      userAgent: 'powernode-ingest/0.1',
    });
    this.clients.set(registry, client);
    return client;
  }
}
