export * from './pagination.js';
export * from './actor.js';
export * from './catalog-api.js';
export * from './rpc-patterns.js';
export * from './agent-api.js';
export * from './provisioner-api.js';
export * from './projection-owners.js';
export * from './machine-subnet.js';
