import { PowernodeError } from '@powernode/contracts';
import { isLoopbackRegistry, OciClientPool, urlIsOnRegistry, type RegistryAuth, type RegistryHop } from '@powernode/oci';

export { isLoopbackRegistry } from '@powernode/oci';

export interface RegistryClientsOptions {
  /** `OCI_REGISTRY`: the only registry that gets `auth`. */
  defaultRegistry: string;
  auth?: RegistryAuth | undefined;
  /** Registries reached over plain HTTP besides loopback ones. */
  insecure: readonly string[];
  /** The only hosts (`host[:port]`) ingest sends requests to: registries, their redirects and token services. */
  allowed: readonly string[];
  /** Attempts per request beyond the first. */
  retries: number;
}

/**
 * One OCI client per registry host. Build reports name the registry, so credentials are only ever sent to
 * the configured `OCI_REGISTRY`; any other registry is pulled anonymously. Every host a request goes to (the
 * registry, each redirect, a token service) must be on the allowlist, so that a report cannot point ingest
 * at an internal service.
 */
export class RegistryClients extends OciClientPool {
  constructor(options: RegistryClientsOptions) {
    const { allowed, defaultRegistry, auth } = options;
    if (allowed.length === 0) {
      throw new PowernodeError('config_invalid', 'ingest needs at least one allowed registry: set OCI_REGISTRY or INGEST_ALLOWED_REGISTRIES', {
        details: { field: 'INGEST_ALLOWED_REGISTRIES' },
      });
    }
    const plainHttp = (url: URL): boolean => isLoopbackRegistry(url.host) || options.insecure.some((entry) => urlIsOnRegistry(url, entry));
    // One rule for the registry a report names and for every later hop: the URL's host and port against each entry.
    const isAllowed = (url: URL): boolean => allowed.some((entry) => urlIsOnRegistry(url, entry));
    super({
      insecure: options.insecure,
      retries: options.retries,
      userAgent: 'powernode-ingest/0.1',
      authFor: (registry) => (registry === defaultRegistry ? auth : undefined),
      admit: (registry) => {
        const scheme = isLoopbackRegistry(registry) || options.insecure.includes(registry) ? 'http' : 'https';
        const url = URL.canParse(`${scheme}://${registry}`) ? new URL(`${scheme}://${registry}`) : undefined;
        if (url === undefined || !isAllowed(url)) {
          throw new PowernodeError(
            'registry_not_allowed',
            `registry ${registry} is not one ingest may pull from (allowed: ${allowed.join(', ')}); push the module there or add the registry to INGEST_ALLOWED_REGISTRIES`,
            {
              details: { registry, allowed },
            },
          );
        }
      },
      checkHop: (url: URL, hop: RegistryHop) => {
        if (!isAllowed(url) || (url.protocol === 'http:' && !plainHttp(url))) {
          throw new PowernodeError(
            'registry_not_allowed',
            `the registry sent ingest to ${url.host} (${hop}), which is not allowed (allowed: ${allowed.join(', ')}; plain http only on loopback and OCI_INSECURE_REGISTRIES); add that host to INGEST_ALLOWED_REGISTRIES if it belongs to the registry`,
            {
              details: { host: url.host, protocol: url.protocol, hop, allowed },
            },
          );
        }
      },
    });
  }
}
