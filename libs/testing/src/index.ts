export * from './registry.js';
export * from './registry-token-service.js';
export * from './nats-server.js';
export * from './service-processes.js';
export * from './platform.js';
export * from './decider-table.js';
export * from './registry-gate.js';
export * from './debian-tools.js';
