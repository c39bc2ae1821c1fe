// The action's code, which the entry (index.ts) loads once its early process work is under way: one module, so that
// the bundle loads it as one chunk.
export { action, run } from './main.js';
export { startWhenRunDirectly } from '#action-kit/entry.js';
