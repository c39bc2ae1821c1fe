import { startWhenRunDirectly } from '#action-kit/entry.js';
import { runMonitor, MONITOR_ARGUMENT } from '#core/egress/index.js';
import { action, run } from './main.js';

// `run` is exported for @github/local-action, which imports this file and then calls it.
export { run };
// The main step starts this same bundle again, detached, as the monitor that outlives it.
if (process.argv[2] === MONITOR_ARGUMENT && process.argv[3]) await runMonitor(process.argv[3]);
else await startWhenRunDirectly(action, import.meta.url);
