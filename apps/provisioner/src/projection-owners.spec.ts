import { PROJECTION_OWNERS } from '@powernode/contracts';
import { agentCredentialsProjection, desiredStateProjection, instancesProjection, moduleCompositionProjection, nodesProjection } from './domain/index.js';

describe('provisioner read models', () => {
  it('are exactly the projections PROJECTION_OWNERS lists for the provisioner (what powernode replay rebuilds)', () => {
    const names = [nodesProjection, instancesProjection, desiredStateProjection, moduleCompositionProjection, agentCredentialsProjection]
      .map((p) => p.name)
      .sort();
    expect(names).toEqual([...PROJECTION_OWNERS.find((o) => o.service === 'provisioner')!.projections].sort());
  });
});
