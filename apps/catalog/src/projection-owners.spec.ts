import { PROJECTION_OWNERS } from '@powernode/contracts';
import { approvalsProjection, modulesProjection, templatesProjection, versionsProjection, webhookRoutesProjection } from '@powernode/catalog-views';

describe('catalog read models', () => {
  it('are exactly the projections PROJECTION_OWNERS lists for the catalog (what powernode replay rebuilds)', () => {
    const names = [modulesProjection, webhookRoutesProjection, versionsProjection, templatesProjection, approvalsProjection].map((p) => p.name).sort();
    expect(names).toEqual([...PROJECTION_OWNERS.find((o) => o.service === 'catalog')!.projections].sort());
  });
});
