import 'reflect-metadata';
import { startServiceHost } from '@powernode/runtime';
import { catalogConfigShape, startCatalog } from './start-catalog.js';

const host = await startServiceHost({ service: 'catalog', shape: catalogConfigShape });
await startCatalog(host);
