import { CATALOG_RPC, GATEWAY_RPC, PROVISIONER_RPC } from './rpc-patterns.js';

/**
 * Which service keeps which read models, and the pattern that asks it to rebuild them. `powernode replay`
 * uses it to rebuild through a running service, or to drop a stopped service's saved states so that it rebuilds
 * them when it starts. Each service's tests check that its projections are exactly the ones listed here.
 */
export const PROJECTION_OWNERS = [
  {
    service: 'catalog',
    replay: CATALOG_RPC.replay,
    projections: ['catalog-modules', 'catalog-webhook-routes', 'catalog-module-versions', 'catalog-templates', 'catalog-promotion-approvals'],
  },
  {
    // The gateway's tokens, and its own copies of the catalog read models it serves reads from.
    service: 'gateway',
    replay: GATEWAY_RPC.replay,
    projections: [
      'gateway-tokens',
      'gateway-catalog-modules',
      'gateway-catalog-module-versions',
      'gateway-catalog-templates',
      'gateway-catalog-promotion-approvals',
    ],
  },
  {
    service: 'provisioner',
    replay: PROVISIONER_RPC.replay,
    projections: ['provisioner-nodes', 'provisioner-instances', 'provisioner-desired-state', 'provisioner-module-composition', 'provisioner-agent-credentials'],
  },
] as const;
