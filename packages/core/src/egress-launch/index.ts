/**
 * The egress domain's second public face: what egress-sentinel's entry runs before the action's code is loaded
 * (start the monitor, send the stop request). It holds only modules that need nothing but Node's built-ins, so that
 * importing it costs the entry next to nothing; everything else is #core/egress/index.js.
 */
export { launchMonitor, sendStopEarly, MONITOR_ARGUMENT, type StopTarget } from '../egress/launch.js';
