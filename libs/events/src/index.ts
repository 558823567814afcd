export * from '@powernode/event-core';
export * from './uuid7.js';
export * from './catalogue.js';
export * from './store/event-store.js';
export * from './store/memory-event-store.js';
export * from './projection/projection-runner.js';
export * from './projection/read-model-set.js';
export * from './bus/index.js';
export * from './powernode-catalogue.js';
export * from './store/checkpoint-store.js';
export * from './store/projection-state-store.js';
// The adapters (better-sqlite3, pg, the KurrentDB client) are not exported: openEventStore loads the one an
// EVENT_STORE_URL names, so a process never loads the drivers it does not use.
export * from './store/open-event-store.js';
export * from './decider/execute-command.js';
