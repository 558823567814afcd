export {};
export * from './registry.js';
export * from './registry-token-service.js';
