/** egress-sentinel's domain: the allow-list, the detached monitor and the sentinel that starts and stops it. */
export * from './allow.js';
export * from './monitor.js';
export * from './monitor-config.js';
export * from './snapshot.js';
export * from './sentinel.js';
export * from './render.js';
