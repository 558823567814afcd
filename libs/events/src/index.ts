export * from './envelope.js';
export * from './uuid7.js';
export * from './catalogue.js';
export * from './store/event-store.js';
export * from './store/memory-event-store.js';
