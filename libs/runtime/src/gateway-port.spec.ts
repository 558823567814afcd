import { isPowernodeError } from '@powernode/contracts';
import { gatewayConfigShape, parseConfig } from './config.js';

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (isPowernodeError(error) && error.code === 'config_invalid') return error.details?.['problems'] as string[];
    throw error;
  }
  throw new Error('expected config_invalid');
}

describe("the gateway's PORT", () => {
  it('listens on 8080 when unset and on the port given otherwise', () => {
    expect(parseConfig(gatewayConfigShape, {}).PORT).toBe(8080);
    expect(parseConfig(gatewayConfigShape, { PORT: '65535' }).PORT).toBe(65535);
  });

  it('takes 0 for a port the system picks, which the gateway then names in its ready line', () => {
    expect(parseConfig(gatewayConfigShape, { PORT: '0' }).PORT).toBe(0);
  });

  it.each(['-1', '65536', '80.5', 'http'])('refuses %s, naming the variable', (given) => {
    expect(problemsOf(() => parseConfig(gatewayConfigShape, { PORT: given }))).toEqual([
      expect.stringMatching(new RegExp(`^PORT: .*\\(got "${given.replace('.', '\\.')}"\\)$`)),
    ]);
  });
});
