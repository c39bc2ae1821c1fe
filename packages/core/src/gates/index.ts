/**
 * Gates on a release directory: the model, presets, loading gate YAML (its parser, spec.ts, is imported on first
 * use by load.ts, so a preset alone starts faster) and the read-only gate runner.
 */
export * from './load.js';
export * from './model.js';
export * from './presets.js';
export * from './run.js';
