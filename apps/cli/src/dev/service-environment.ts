import type { RelayHost } from '@powernode/runtime';

/** The settings the dev stack resolved once and hands to every service it starts. */
export interface DevStackSettings {
  POWERNODE_DATA_DIR: string;
  EVENT_STORE_URL: string;
  NATS_URL: string;
  OCI_REGISTRY: string;
  POWERNODE_RELAY_HOST: RelayHost;
}

/**
 * The environment of every service the dev stack starts. Every one gets the same resolved values, the relay
 * host included, so the services agree on one store, one bus and the one of them that relays between the two.
 */
export function devServiceEnvironment(env: NodeJS.ProcessEnv, settings: DevStackSettings): NodeJS.ProcessEnv {
  return {
    ...env,
    POWERNODE_DATA_DIR: settings.POWERNODE_DATA_DIR,
    EVENT_STORE_URL: settings.EVENT_STORE_URL,
    NATS_URL: settings.NATS_URL,
    OCI_REGISTRY: settings.OCI_REGISTRY,
    POWERNODE_RELAY_HOST: settings.POWERNODE_RELAY_HOST,
  };
}
