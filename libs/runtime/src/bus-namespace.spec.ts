import { isPowernodeError } from '@powernode/contracts';
import { baseConfigShape, gatewayConfigShape, parseConfig } from './config.js';

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (isPowernodeError(error) && error.code === 'config_invalid') return error.details?.['problems'] as string[];
    throw error;
  }
  throw new Error('expected config_invalid');
}

describe('POWERNODE_BUS_NAMESPACE', () => {
  it('is unset by default, and an empty value counts as unset: the historical subjects and streams', () => {
    expect(parseConfig(baseConfigShape, {}).POWERNODE_BUS_NAMESPACE).toBeUndefined();
    expect(parseConfig(gatewayConfigShape, { POWERNODE_BUS_NAMESPACE: '' }).POWERNODE_BUS_NAMESPACE).toBeUndefined();
  });

  it('takes one subject token', () => {
    expect(parseConfig(baseConfigShape, { POWERNODE_BUS_NAMESPACE: 'staging-2_b' }).POWERNODE_BUS_NAMESPACE).toBe('staging-2_b');
  });

  it.each(['a.b', 'events.>', 'two words', 'x'.repeat(33)])('refuses %j, naming the variable and what it accepts', (bad) => {
    expect(problemsOf(() => parseConfig(baseConfigShape, { POWERNODE_BUS_NAMESPACE: bad }))).toEqual([
      `POWERNODE_BUS_NAMESPACE: must be 1 to 32 letters, digits, _ or - (one NATS subject token), the same for every service (got ${JSON.stringify(bad)})`,
    ]);
  });
});
