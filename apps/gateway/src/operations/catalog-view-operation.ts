import type { z } from 'zod';
import type { CatalogViews } from '@powernode/catalog-views';
import type { RestRoute } from '@powernode/contracts';
import type { GatewayReadModels } from '../read-models/gateway-read-models.js';
import { defineOperation, type Operation } from './operation.js';

export interface CatalogViewOperationOptions<I> {
  readModels: GatewayReadModels;
  tool: string;
  title: string;
  description: string;
  input: z.ZodType<I>;
  rest: RestRoute;
  /** The query function the catalog service uses for the same read. */
  query: (views: CatalogViews, input: I) => unknown;
}

/**
 * A catalog read the gateway answers from its own copies of the catalog read models, with the query function
 * the catalog service uses for the same RPC: the same answer, without the round trip over NATS.
 */
export function servedFromCatalogViews<I>({ readModels, tool, title, description, input, rest, query }: CatalogViewOperationOptions<I>): Operation<I> {
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
