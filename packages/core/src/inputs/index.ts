export * from './duration.js';
export * from './lists.js';
export * from './status.js';
export * from './schema.js';
