import { startWhenRunDirectly } from '#action-kit/entry.js';
import { action, run } from './main.js';

// `run` is exported for @github/local-action, which imports this file and then calls it.
export { run };
// The monitor that outlives the main step is a bundle of its own (src/monitor.ts).
await startWhenRunDirectly(action, import.meta.url);
