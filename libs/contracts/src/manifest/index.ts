export * from './linux-capabilities.js';
export * from './manifest-schema.js';
export * from './manifest-json-schema.js';
export * from './manifest-validation.js';
