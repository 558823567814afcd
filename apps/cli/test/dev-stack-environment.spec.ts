import { baseConfigShape, gatewayConfigShape, hostsRelay, parseConfig } from '@powernode/runtime';
import { SERVICES } from '../src/dev/dev-stack.js';
import { devServiceEnvironment } from '../src/dev/service-environment.js';

/** What each service of `npm start` resolves from the environment the dev stack gives it. */
function relayHostsOf(userEnv: NodeJS.ProcessEnv): string[] {
  const serviceEnv = devServiceEnvironment(userEnv, parseConfig(gatewayConfigShape, userEnv));
  return SERVICES.filter((service) => hostsRelay(service, parseConfig(baseConfigShape, serviceEnv)));
}

describe('npm start: the relay host', () => {
  it('starts exactly one relay, in the catalog, and names it explicitly for every service', () => {
    expect(relayHostsOf({})).toEqual(['catalog']);
    expect(devServiceEnvironment({}, parseConfig(gatewayConfigShape, {}))['POWERNODE_RELAY_HOST']).toBe('catalog');
  });

  it('moves the one relay where POWERNODE_RELAY_HOST says', () => {
    expect(relayHostsOf({ POWERNODE_RELAY_HOST: 'provisioner' })).toEqual(['provisioner']);
  });

  it('refuses a bad value before starting anything', () => {
    expect(() => parseConfig(gatewayConfigShape, { POWERNODE_RELAY_HOST: 'everywhere' })).toThrow(/POWERNODE_RELAY_HOST: must name the one service/);
  });
});
