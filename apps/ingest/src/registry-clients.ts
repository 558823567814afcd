import { PowernodeError } from '@powernode/contracts';
import { OciClientPool, type RegistryAuth } from '@powernode/oci';

export { isLoopbackRegistry } from '@powernode/oci';

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

/**
 * One OCI client per registry host. Build reports name the registry, so credentials are only ever sent to
 * the configured `OCI_REGISTRY`; any other registry is pulled anonymously, and only if allowed.
 */
export class RegistryClients extends OciClientPool {
  constructor(options: RegistryClientsOptions) {
    const { allowed, defaultRegistry, auth } = options;
    super({
      insecure: options.insecure,
      retries: options.retries,
      userAgent: 'powernode-ingest/0.1',
      authFor: (registry) => (registry === defaultRegistry ? auth : undefined),
      admit: (registry) => {
        if (allowed.length > 0 && !allowed.includes(registry)) {
          throw new PowernodeError('validation_failed', `registry ${registry} is not one ingest may pull from (INGEST_ALLOWED_REGISTRIES: ${allowed.join(', ')}); push the module there or allow the registry`, {
            details: { registry, allowed },
          });
        }
      },
    });
  }
}
