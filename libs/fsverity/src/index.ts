export * from './descriptor.js';
export * from './merkle-tree.js';
export * from './file-digest.js';
export * from './parallel-file-digest.js';
export * from './digest-line.js';
