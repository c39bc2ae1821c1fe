/**
 * Gates on a release directory: the model, presets, loading gate YAML (its parser, spec.ts, is imported on first
 * use by load.ts, so a preset alone starts faster) and the read-only gate runner.
 */
import type { runGates as runOnTarget } from './run.js';

export * from './load.js';
export * from './model.js';
export * from './presets.js';
export type { GateResult, GateRunOptions, GatesOutcome } from './run.js';

/**
 * Runs the gates on a target (run.ts), loaded on first use: the runner (its scripts, the JSON and backup checks)
 * is not needed to read and check an action's inputs, and a step stopped at an input error should not compile it.
 */
export async function runGates(...args: Parameters<typeof runOnTarget>): ReturnType<typeof runOnTarget> {
  return (await import('./run.js')).runGates(...args);
}
