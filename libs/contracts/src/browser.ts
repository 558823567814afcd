/*
 * What the web UI bundles from the contracts: the catalog's inputs (so its forms validate exactly as the API
 * does) and vocabularies. Only zod schemas, no Node built-ins: the full index also loads node:crypto.
 */
export * from './api/catalog-api.js';
export * from './events/catalog-vocabulary.js';
