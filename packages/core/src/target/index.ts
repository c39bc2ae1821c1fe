export * from './target.js';
export * from './local.js';
export * from './inputs.js';
