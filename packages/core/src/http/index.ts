export * from './failure.js';
export * from './request.js';
export * from './expectations.js';
export * from './manifest.js';
export * from './load.js';
export * from './concurrency.js';
