/** resolve-build-run's domain: the build run (and artifact) of exactly one commit. */
export * from './model.js';
export * from './resolve.js';
export * from './render.js';
