/** The sentinel as main, the stop step and post use it: start, checkpoint, stop, and what they hand each other. */
export { MONITOR_ARGUMENT } from './launch.js';
export type { SentinelReport, Violation } from './report.js';
export { POLL_INTERVAL_MS, type SentinelConfig, type SentinelState } from './sentinel-state.js';
export { startSentinel } from './start.js';
export { checkpointSentinel, stopSentinel } from './stop.js';
export { sealState } from './record.js';
