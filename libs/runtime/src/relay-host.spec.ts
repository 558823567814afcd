import { isPowernodeError } from '@powernode/contracts';
import { baseConfigShape, gatewayConfigShape, hostsRelay, parseConfig, RELAY_HOSTS } from './config.js';

const SERVICES = ['catalog', 'ingest', 'provisioner', 'gateway'] as const;

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (isPowernodeError(error) && error.code === 'config_invalid') return error.details?.['problems'] as string[];
    throw error;
  }
  throw new Error('expected config_invalid');
}

describe('POWERNODE_RELAY_HOST', () => {
  it('names the catalog when unset or empty', () => {
    expect(parseConfig(baseConfigShape, {}).POWERNODE_RELAY_HOST).toBe('catalog');
    expect(parseConfig(baseConfigShape, { POWERNODE_RELAY_HOST: '' }).POWERNODE_RELAY_HOST).toBe('catalog');
  });

  it.each(RELAY_HOSTS)('makes %s the one service of a shared environment that relays', (host) => {
    const hosts = SERVICES.filter((service) =>
      hostsRelay(service, parseConfig(service === 'gateway' ? gatewayConfigShape : baseConfigShape, { POWERNODE_RELAY_HOST: host })),
    );
    expect(hosts).toEqual([host]);
  });

  it('refuses a value that names no relaying service, saying which variable and what it accepts', () => {
    for (const bad of ['catalgo', 'Catalog', 'true', 'gateway', 'catalog,ingest']) {
      expect(problemsOf(() => parseConfig(baseConfigShape, { POWERNODE_RELAY_HOST: bad }))).toEqual([
        `POWERNODE_RELAY_HOST: must name the one service that relays the event log to JetStream: catalog, ingest, provisioner (the same value for every service) (got ${JSON.stringify(bad)})`,
      ]);
    }
  });

  it('is refused by the gateway too, so a bad value stops every service alike', () => {
    expect(problemsOf(() => parseConfig(gatewayConfigShape, { POWERNODE_RELAY_HOST: 'gateway' }))[0]).toMatch(/^POWERNODE_RELAY_HOST: /);
  });
});
