export * from './model.js';
export * from './spec.js';
export * from './presets.js';
export * from './run.js';
