/** health-retry's domain: its configuration and the retry loop. */
export * from './config.js';
export * from './run.js';
export * from './render.js';
