/** health-retry's domain: its configuration and the retry loop. */
export * from './config.js';
export * from './run.js';
export * from './render.js';
export * from './watch.js';
export * from './watch-report.js';
export * from './prometheus.js';
export * from './prometheus-queries.js';
