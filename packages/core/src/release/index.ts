/** The release directory: atomic `current` swap, hooks, rollback, pruning, history, and the deploy lock of a releases-root. */
export * from './lock.js';
export * from './switch.js';
export * from './history.js';
export * from './rules.js';
export * from './mark.js';
export * from './link.js';
export * from './shared.js';
export * from './listing.js';
export * from './render.js';
