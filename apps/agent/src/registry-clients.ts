import { OciClientPool } from '@powernode/oci';

/** How the agent reaches registries. */
export interface RegistryClientsOptions {
  /** Registries reached over plain HTTP besides loopback ones. */
  insecure: readonly string[];
  /** Extra attempts per request (5xx, 429, connection errors). */
  retries: number;
  fetch?: typeof fetch;
}

/** One OCI client per registry host named by the desired state; pulls are anonymous. */
export class RegistryClients extends OciClientPool {
  constructor(options: RegistryClientsOptions) {
    super({
      insecure: options.insecure,
      retries: options.retries,
      retryDelayMs: 200,
      maxRetryDelayMs: 2_000,
      userAgent: 'powernode-agent/0.1',
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
  }
}
