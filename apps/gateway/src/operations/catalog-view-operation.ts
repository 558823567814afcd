import type { z } from 'zod';
import type { CatalogViews } from '@powernode/catalog-views';
import type { GatewayReadModels } from '../read-models/gateway-read-models.js';
import { defineOperation, type HttpMethod, type Operation } from './operation.js';

/**
 * A catalog read the gateway answers from its own copies of the catalog read models, with the query function
 * the catalog service uses for the same RPC: the same answer, without the round trip over NATS.
 */
export function servedFromCatalogViews<I>(
  readModels: GatewayReadModels,
  tool: string,
  query: (views: CatalogViews, input: I) => unknown,
  input: z.ZodType<I>,
  rest: { method: HttpMethod; path: string },
  title: string,
  description: string,
): Operation<I> {
  return defineOperation({
    tool,
    title,
    description,
    permission: 'read',
    input,
    rest,
    run: async (payload) => query(await readModels.freshCatalogViews(), payload),
  });
}
