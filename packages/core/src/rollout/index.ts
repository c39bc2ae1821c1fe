/** release-services' domain: ordered rollout of several services, the coordinated rollback and its table. */
export * from './markdown.js';
export * from './run.js';
export * from './services.js';
export * from './report.js';
export * from './render.js';
