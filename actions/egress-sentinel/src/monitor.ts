import { MONITOR_ARGUMENT, runMonitor } from '#core/egress/index.js';

// The monitor the main step starts detached (dist/egress-sentinel/monitor.js): a bundle of its own, without the
// action's envelope and input machinery, so that it starts in a fraction of the action's time.
if (process.argv[2] === MONITOR_ARGUMENT && process.argv[3]) await runMonitor(process.argv[3]);
