/** The release directory: atomic `current` swap, hooks, rollback, pruning, and the deploy lock of a releases-root. */
export * from './lock.js';
export * from './switch.js';
export * from './history.js';
export * from './shared.js';
export * from './listing.js';
