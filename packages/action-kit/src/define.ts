import { tmpdir } from 'node:os';
import type { z } from 'zod';
import { coreContext, type CoreContext } from '#core/context.js';
import { ArgumentError, UserError } from '#core/errors.js';
import { InputError, parseInputs } from './inputs.js';
import type { Logger } from '#core/logger.js';
import { Redactor, secretForms } from '#core/redact.js';
import type { ReportStage } from '#core/report/document.js';
import { renderSummary } from '#core/report/markdown.js';
import { formatResultLine, headline, type CheckResult } from '#core/report/result.js';
import { logSafe } from '#core/text.js';
import { githubFacts, type GitHubFacts } from './github.js';
import { reportDocument, reportPath, writeReport, type ReportFacts, type ReportPlan } from './report.js';
import { unwritableFile } from '#core/report/json.js';
import { actionsCore, type Runner } from './runner.js';

/**
 * The one envelope every action runs in. An action is declared once — its inputs keyed by the exact action.yml
 * names, which of them are secret, the schema of its outputs, and `main` (plus `post` where state must be cleaned
 * up) — and the envelope does the rest the same way for all: mask secrets before anything else runs, read and
 * validate the inputs, group the log, run the phase, then log the result lines, write the report document (one
 * versioned shape for every action, see core/report/document.ts), the job summary and the validated outputs, and
 * fail the step by one rule.
 */

type InputShape = Record<string, z.ZodType<unknown, string>>;
export type Inputs<S extends InputShape> = { [K in keyof S]: z.output<S[K]> };

/**
 * How the raw text of a secret input is masked: `value` whole; `multiline` whole and line by line (a private key:
 * a runner masks line by line and a tool may echo one line of it); or a function returning the secret parts of a
 * text that is not secret as a whole (a header list, gate YAML with `secret:` values).
 */
export type SecretKind = 'value' | 'multiline' | ((raw: string) => (string | undefined)[]);

export interface ActionContext extends CoreContext {
  /** The action's name, e.g. `health-retry`. */
  action: string;
  /** Masks values found while running (a URL's password, a token from the environment), in the log and in files. */
  mask(...secrets: (string | undefined)[]): void;
  /** The checked-out repository (GITHUB_WORKSPACE), or the working directory outside a runner. */
  workspace: string;
  /** A variable of the step's environment (`env:` of the step or job), e.g. one a gate names with `secret-env`. */
  env(name: string): string | undefined;
  /** The runner's temporary directory (RUNNER_TEMP), emptied after the job; the system's outside a runner. */
  tempDir: string;
  /** The facts of the workflow run: token (masked), repository, sha, URLs, the run's label (see ./github.ts). */
  github: GitHubFacts;
  /** Where the JSON report goes when the action has no report-path input set: RUNNER_TEMP/deploy-gates/<action>-report.json. */
  defaultReportPath: string;
  /** State handed from one phase to the next (pre → main → post). */
  state: { save(name: string, value: string): void; get(name: string): string };
}

/** What a phase returns; the envelope renders it and fails the step when `failure` is set. */
export interface ActionResult<O> {
  /** Headline of the summary (`Health checks: 3/3 PASSED`) and of the log's closing lines. */
  title: string;
  /** Heading of the summary's first column: `Check` unless given. */
  itemLabel?: string;
  results: readonly CheckResult[];
  /** Label/value rows under the summary table (the report's path is added when there is a report). */
  facts?: readonly (readonly [string, string])[];
  /**
   * What the report document says besides the results: release, SHA, the action's own details. The envelope writes
   * the document after the last phase (main, or post where there is one) and after any phase that returns this.
   */
  report?: ReportFacts;
  /**
   * Set: this phase writes no report and leaves the one an earlier step wrote (egress-sentinel's post step after its
   * `stop: true` step already reported).
   */
  keepsEarlierReport?: boolean;
  /** Markdown that replaces the rendered summary table (the deployment ledger's own layout); masked like the rest. */
  summary?: string;
  /** Validated as a whole against the declared schema before any is written; none are written when absent. */
  outputs?: { [K in keyof O]: string | undefined };
  /** The closing log line of a step that passes. */
  verdict?: string;
  /** Set: the step fails with this message. */
  failure?: string;
}

export interface ActionDefinition<S extends InputShape, O extends Record<string, string | undefined>> {
  name: string;
  /** The stage of a deploy the action's report is evidence of (core/report/document.ts). */
  stage: ReportStage;
  inputs: S;
  secrets?: { [K in keyof S & string]?: SecretKind };
  /**
   * The outputs' schema, or a function that builds it: called when a phase returns outputs, at the end of a run, so
   * that a step's start (and a step stopped at an input error) does not build every output's checks.
   */
  outputs: z.ZodType<O> | (() => z.ZodType<O>);
  /** Which input a core argument came from (`{ releaseDir: 'release-dir' }`), so core's errors name the input. */
  argumentInputs?: Record<string, keyof S & string>;
  main(inputs: Inputs<S>, context: ActionContext): Promise<ActionResult<O>>;
  /** Runs as the action's `pre` step, in the same bundle (action.yml: `pre:` the same file as `main:`). */
  pre?(inputs: Inputs<S>, context: ActionContext): Promise<ActionResult<O>>;
  /** Runs as the action's `post` step, in the same bundle (action.yml: `post:` the same file as `main:`). */
  post?(inputs: Inputs<S>, context: ActionContext): Promise<ActionResult<O>>;
}

export interface DefinedAction {
  readonly name: string;
  /** Runs the phase the runner is in (pre, main or post) through `runner`, by default @actions/core's API. */
  run(runner?: Runner): Promise<void>;
}

/**
 * The saved state that tells pre, main and post apart when all start the same bundle: each phase records itself,
 * and the runner hands an action's saved state to its later phases as STATE_* variables.
 */
const PHASE_STATE = 'deploy-gates-phase';
type Phase = 'pre' | 'main' | 'post';

function currentPhase(definition: { pre?: unknown; post?: unknown }, runner: Runner): Phase {
  const last = runner.getState(PHASE_STATE);
  if (last === 'main' && definition.post) return 'post';
  if (last === '' && definition.pre) return 'pre';
  return 'main';
}

export function defineAction<S extends InputShape, O extends Record<string, string | undefined>>(
  definition: ActionDefinition<S, O>,
): DefinedAction {
  return {
    name: definition.name,
    run: async (runner) => runPhase(definition, runner ?? (await actionsCore())),
  };
}

async function runPhase<S extends InputShape, O extends Record<string, string | undefined>>(
  definition: ActionDefinition<S, O>,
  runner: Runner,
): Promise<void> {
  const startedAt = new Date();
  const startedMs = performance.now();
  const phaseName = currentPhase(definition, runner);
  const phase = (phaseName === 'main' ? definition.main : definition[phaseName])!;
  const redactor = new Redactor();
  const mask = (...secrets: (string | undefined)[]) => {
    // The redactor decides what counts as a secret; the runner masks the same ones in the log.
    for (const secret of secrets)
      if (redactor.add(secret)) for (const form of secretForms(secret!)) runner.setSecret(form);
  };
  // Every log line the envelope and core write goes through here: untrusted text in it never starts a workflow command.
  const info = (message: string) => runner.info(logSafe(message));
  const logger = runnerLogger(runner, info, definition.name);
  try {
    if (definition.pre || definition.post) runner.saveState(PHASE_STATE, phaseName);
    // Secrets first: nothing — not even an input error — is logged before they are masked.
    // Trimmed here as @actions/core trims by default: a stub (local-action's) may not.
    const input = (name: string) => runner.getInput(name).trim();
    for (const [name, kind] of Object.entries(definition.secrets ?? {}) as [string, SecretKind][])
      mask(...secretParts(input(name), kind));
    let inputs: Inputs<S>;
    try {
      inputs = (await parseInputs(definition.inputs, input)) as Inputs<S>;
    } catch (error) {
      // Told once, by the main step; the post step (same inputs) only says it did nothing.
      if (phaseName !== 'post' || !(error instanceof UserError)) throw error;
      return runner.setFailed('The inputs were rejected (see the main step); the post step did nothing.');
    }
    const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
    const github = githubFacts((inputs as { 'github-token'?: string })['github-token']);
    mask(github.token);
    const context: ActionContext = {
      ...coreContext({ logger, redactor }),
      action: definition.name,
      mask,
      workspace,
      env: (name) => process.env[name],
      tempDir: process.env.RUNNER_TEMP || tmpdir(),
      github,
      defaultReportPath: defaultReportPath(definition.name),
      state: { save: (name, value) => runner.saveState(name, value), get: (name) => runner.getState(name) },
    };
    runner.startGroup(`${definition.name}${phaseName === 'main' ? '' : ` (${phaseName})`}`);
    const lastPhase = phaseName === 'post' || (phaseName === 'main' && !definition.post);
    const planned: ReportPlan = {
      path: reportPath(inputs, workspace, context.defaultReportPath),
      stage: definition.stage,
      startedAt,
      startedMs,
      github,
    };
    await checkReportPath(inputs, planned.path);
    let result: ActionResult<O>;
    try {
      result = await phase(inputs, context);
    } catch (error) {
      if (lastPhase) await reportThrown(definition, error, planned, runner, redactor);
      throw error;
    } finally {
      runner.endGroup();
    }
    const plan = (lastPhase && !result.keepsEarlierReport) || result.report ? planned : undefined;
    await render(definition.name, result, definition.outputs, runner, info, redactor, plan);
  } catch (error) {
    const input = error instanceof ArgumentError ? definition.argumentInputs?.[error.argument] : undefined;
    fail(runner, redactor, input && error instanceof ArgumentError ? new InputError(input, error.problem) : error);
  }
}

function secretParts(raw: string, kind: SecretKind): (string | undefined)[] {
  if (kind === 'value') return [raw];
  if (kind === 'multiline') {
    const bodyLines = raw
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line.length > 8 && !line.startsWith('-----'));
    return [raw, ...bodyLines];
  }
  return kind(raw);
}

/**
 * GitHub shows at most 10 error and 10 warning annotations per step and drops the rest, whichever they are; a step
 * makes few so that none is lost. The closing one (the failure, or the warning of a step that passes despite failed
 * checks) names the first failed checks; every check is in the log lines and the summary table.
 */
export const ANNOTATED_CHECKS = 3;
/** Warnings and errors core logs while the phase runs that become annotations; later ones are log lines only. */
export const LOGGED_ANNOTATIONS = 4;

/** The closing annotation's lines after its first: the first failed checks not already told, and how many more. */
function failedCheckLines(results: readonly CheckResult[], told: string | undefined, redactor: Redactor): string[] {
  const untold = results.filter((item) => item.status === 'fail' && !told?.includes(item.detail));
  // Masked before whitespace is collapsed, which a multi-line secret (a key) would no longer be found after.
  const lines = untold
    .slice(0, ANNOTATED_CHECKS)
    .map((item) => redactor.redact(`${item.name}: ${item.detail}`).replace(/\s+/g, ' '));
  const more = untold.length - ANNOTATED_CHECKS;
  if (more > 0) lines.push(`… and ${more} more failed (see the log and the job summary)`);
  return lines;
}

/**
 * Outputs are one line each: a later step reads them into a command line, a file or an HTTP header, where a line
 * break is an injection. An action makes untrusted text one line before it returns it; a value that is still more
 * than one line here is a bug, and no output is written.
 */
function oneLineOutputs<O extends Record<string, string | undefined>>(outputs: O): O {
  for (const [name, value] of Object.entries(outputs)) {
    if (value !== undefined && /[\r\n]/.test(value))
      throw new Error(`output ${name} is more than one line: ${JSON.stringify(value.slice(0, 80))}`);
  }
  return outputs;
}

/** Result lines, report, summary, outputs, then the verdict — or the failure, by the one rule. */
async function render<O extends Record<string, string | undefined>>(
  action: string,
  result: ActionResult<O>,
  schema: z.ZodType<O> | (() => z.ZodType<O>),
  runner: Runner,
  info: (message: string) => void,
  redactor: Redactor,
  plan: ReportPlan | undefined,
) {
  // Outputs are validated before anything is written: a bad one is a bug, and then no output exists at all.
  const outputs =
    result.outputs === undefined
      ? undefined
      : oneLineOutputs((typeof schema === 'function' ? schema() : schema).parse(result.outputs));
  // One log line per result, whatever line breaks a detail from a server or a host holds.
  for (const line of result.results) info(redactor.redact(formatResultLine(line)).replace(/\r\n|\r|\n/g, ' '));
  const facts = [...(result.facts ?? [])];
  if (plan) {
    await writeReport(plan.path, reportDocument(action, plan, result, performance.now()), redactor);
    facts.push(['Report', plan.path]);
  }
  // Masked before it is escaped for markdown, where a secret written with `_` or `*` would no longer be found.
  const masked = (text: string) => redactor.redact(text);
  const summary =
    result.summary ??
    renderSummary({
      title: masked(result.title),
      itemLabel: result.itemLabel,
      results: result.results.map((item) => ({ ...item, name: masked(item.name), detail: masked(item.detail) })),
      facts: facts.map(([label, value]) => [label, masked(value)] as const),
    });
  await writeSummary(runner, redactor, summary);
  for (const [name, value] of Object.entries(outputs ?? {}))
    if (value !== undefined) runner.setOutput(name, redactor.redact(value));
  // The report is evidence of a failed step too: its path is an output whenever it was written.
  if (plan) runner.setOutput('report', redactor.redact(plan.path));

  // One annotation closes the step: the failure — or, when the step passes despite failed checks, a warning with
  // the headline — followed by the first failed checks the failure does not already tell.
  if (result.failure !== undefined)
    return runner.setFailed(
      redactor.redact([result.failure, ...failedCheckLines(result.results, result.failure, redactor)].join('\n')),
    );
  const failedChecks = failedCheckLines(result.results, undefined, redactor);
  if (failedChecks.length > 0)
    runner.warning(redactor.redact([headline(result.title, result.results), ...failedChecks].join('\n')), {
      title: action,
    });
  if (result.verdict) info(redactor.redact(result.verdict));
}

async function writeSummary(runner: Runner, redactor: Redactor, markdown: string): Promise<void> {
  // Outside a runner (a bundle started by hand) there may be no summary file; the log and report still say it all.
  if (!process.env.GITHUB_STEP_SUMMARY)
    return runner.debug('GITHUB_STEP_SUMMARY is not set, so no job summary is written');
  // The summary is evidence beside the log and the report, not the verdict: a summary file that cannot be written
  // (removed, its folder gone, not writable) is warned about, and the step goes on to its outputs and its verdict.
  try {
    await runner.summary.addRaw(redactor.redact(markdown), true).write();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    runner.warning(
      redactor.redact(`No job summary was written (GITHUB_STEP_SUMMARY=${process.env.GITHUB_STEP_SUMMARY}): ${reason}`),
      { title: 'job summary' },
    );
  }
}

/** A report-path that cannot be written fails the step before it does anything (a switch, a backup). */
async function checkReportPath(inputs: object, path: string): Promise<void> {
  if (!(inputs as { 'report-path'?: string })['report-path']) return;
  const problem = await unwritableFile(path);
  if (problem) throw new InputError('report-path', problem);
}

/**
 * A step that failed by throwing (a release directory already there, a rollback with nothing to roll back to) is
 * evidence too: its report says so, with the failure, so a ledger reads "failed" rather than "no report". Input
 * errors write none: nothing was tried, and the report's own path may be what was wrong.
 */
async function reportThrown(
  definition: { name: string; argumentInputs?: Record<string, string> },
  error: unknown,
  plan: ReportPlan,
  runner: Runner,
  redactor: Redactor,
): Promise<void> {
  if (error instanceof InputError || (error instanceof ArgumentError && definition.argumentInputs?.[error.argument]))
    return;
  const failure = error instanceof UserError ? error.message : `Unexpected error: ${String(error)}`;
  // The failure is the step's one result: a report document has no other place for what went wrong.
  const durationMs = performance.now() - plan.startedMs;
  const results = [{ name: 'step', status: 'fail' as const, detail: failure, durationMs }];
  try {
    await writeReport(
      plan.path,
      reportDocument(definition.name, plan, { results, failure }, performance.now()),
      redactor,
    );
    runner.setOutput('report', redactor.redact(plan.path));
  } catch (writeError) {
    runner.warning(redactor.redact(`No report was written to ${plan.path}: ${String(writeError)}`), {
      title: 'report',
    });
  }
}

/** The one failure rule for what a phase throws: a UserError fails the step with its message alone; anything else is a bug. */
function fail(runner: Runner, redactor: Redactor, error: unknown): void {
  if (error instanceof UserError) return runner.setFailed(redactor.redact(error.message));
  const message = redactor.redact(error instanceof Error ? error.message : String(error));
  runner.debug(redactor.redact(error instanceof Error && error.stack ? error.stack : message));
  runner.setFailed(`Unexpected error (a bug in deploy-gates, please report it): ${message}`);
}

/**
 * A Logger that writes to the runner's log; the first LOGGED_ANNOTATIONS errors and warnings become annotations
 * titled with the action's name, later ones log lines that say what they are.
 */
function runnerLogger(runner: Runner, info: (message: string) => void, title: string): Logger {
  let annotations = 0;
  const annotate = (level: 'warning' | 'error', message: string) => {
    if (annotations < LOGGED_ANNOTATIONS) {
      annotations++;
      return runner[level](message, { title });
    }
    if (annotations++ === LOGGED_ANNOTATIONS)
      info(`(${LOGGED_ANNOTATIONS} annotations made; further warnings and errors are log lines only)`);
    info(`${level === 'error' ? 'Error' : 'Warning'}: ${message}`);
  };
  return {
    info,
    warning: (message) => annotate('warning', message),
    error: (message) => annotate('error', message),
    debug: (message) => runner.debug(message),
  };
}

function defaultReportPath(action: string): string {
  const dir = process.env.RUNNER_TEMP || process.env.TMPDIR || '/tmp';
  return `${dir.replace(/\/$/, '')}/deploy-gates/${action}-report.json`;
}
