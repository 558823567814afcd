export * from './config.js';
export * from './logger.js';
export * from './shutdown.js';
export * from './poll.js';
export * from './service-host.js';
export * from './debian-packages.js';
export * from './owner-only-file.js';
export * from './nats-credentials.js';
