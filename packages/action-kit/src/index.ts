import * as core from './runner.js';
import { z } from 'zod';
import { UserError } from '#core/errors.js';
import type { Logger } from '#core/logger.js';
import { parseInputs } from '#core/inputs/schema.js';
import { renderSummary, type Summary } from '#core/report/markdown.js';
import type { Redactor } from '#core/redact.js';

/**
 * The only place besides the CLI that talks to the runner (through ./runner.ts): every action's main.ts reads inputs,
 * writes outputs and the summary, and reports failure through these few helpers, so all actions behave alike.
 */

/** A Logger that writes to the runner's log; errors and warnings become annotations. */
export function runnerLogger(title: string): Logger {
  return {
    info: (message) => core.info(message),
    warning: (message) => core.warning(message, { title }),
    error: (message) => core.error(message, { title }),
    debug: (message) => core.debug(message),
  };
}

/** Reads every input of the schema by its action.yml name; bad inputs fail before anything runs. */
export function readInputs<S extends Record<string, z.ZodType<unknown, string>>>(shape: S) {
  return parseInputs(shape, (name) => core.getInput(name));
}

/** Registers secrets with the runner (masked in the log) and with the redactor (masked in files). */
export function maskSecrets(redactor: Redactor, ...secrets: (string | undefined)[]): void {
  for (const secret of secrets) {
    if (!secret) continue;
    core.setSecret(secret);
    redactor.add(secret);
  }
}

/**
 * Masks a multi-line secret such as a private key: whole, and each of its body lines, because a runner
 * masks line by line and a tool may echo a single line of it. The `-----BEGIN …-----` armour is not secret.
 */
export function maskMultilineSecret(redactor: Redactor, secret: string): void {
  const bodyLines = secret
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 8 && !line.startsWith('-----'));
  maskSecrets(redactor, secret, ...bodyLines);
}

/**
 * Validates outputs before any is written: on success an output is never null, undefined or empty.
 * A failing schema is a bug in the action, reported as such, and nothing is written.
 */
export function writeOutputs<T extends Record<string, string | undefined>>(schema: z.ZodType<T>, values: unknown, redactor: Redactor): T {
  const outputs = schema.parse(values);
  for (const [name, value] of Object.entries(outputs)) {
    if (value !== undefined) core.setOutput(name, redactor.redact(value));
  }
  return outputs;
}

/** An output value: a non-empty string without `null`/`undefined` spelled out. */
export const outputValue = () =>
  z
    .string()
    .min(1)
    .refine((value) => value !== 'null' && value !== 'undefined', { message: 'must be a real value, not null/undefined' });

export async function writeSummary(summary: Summary, redactor: Redactor): Promise<void> {
  // Outside a runner (a bundle started by hand) there may be no summary file; the log and report still say it all.
  if (!process.env.GITHUB_STEP_SUMMARY) return core.debug('GITHUB_STEP_SUMMARY is not set, so no job summary is written');
  await core.summary.addRaw(redactor.redact(renderSummary(summary)), true).write();
}

/** Where reports go by default: the runner's temp directory (RUNNER_TEMP), or the OS temp dir outside a runner. */
export function defaultReportPath(action: string): string {
  const dir = process.env.RUNNER_TEMP || process.env.TMPDIR || '/tmp';
  return `${dir.replace(/\/$/, '')}/deploy-gates/${action}-report.json`;
}

/**
 * Runs an action's main: a UserError fails the step with its message alone;
 * anything else is a bug, failed with its stack in the debug log.
 */
export async function runAction(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    if (error instanceof UserError) {
      core.setFailed(error.message);
    } else {
      const message = error instanceof Error ? error.message : String(error);
      core.debug(error instanceof Error && error.stack ? error.stack : message);
      core.setFailed(`Unexpected error (a bug in deploy-gates, please report it): ${message}`);
    }
  }
}
