import { z } from 'zod';
import type { GitHubFacts } from '#action-kit/github.js';
import { boolean, checkedBy, InputError, lines, optional, optionalOf, withDefault } from '#action-kit/inputs.js';
import type { LedgerFacts } from '#core/ledger/index.js';
import { unwritableFile } from '#core/report/index.js';
import { parseList, splitPair } from '#core/units/index.js';
import { REPORT_STAGES, type ReportStage } from '#core/report/index.js';

const JOB_RESULTS = ['success', 'failure', 'cancelled', 'skipped'];
/** A ledger's own report is never evidence (the ledger skips it), so no stage `ledger` can be required. */
const EVIDENCE_STAGES: readonly string[] = REPORT_STAGES.filter((stage) => stage !== 'ledger');
/** A date and a time with its zone, as `date -u +%FT%TZ` and `new Date().toISOString()` write it. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** The inputs of deployment-ledger, keyed by their action.yml names, with the same defaults. */
export const deploymentLedgerInputs = {
  reports: lines((line) => ({ value: line })),
  'reports-dir': optional(),
  environment: optionalOf(
    checkedBy((text) =>
      /[\p{Cc}\u2028\u2029]/u.test(text)
        ? { problem: "has a line break or control character; give the environment's name, e.g. production" }
        : { value: text },
    ),
  ),
  sha: optionalOf(
    checkedBy((sha) =>
      /^[0-9a-f]{40}$/.test(sha)
        ? { value: sha }
        : { problem: `"${sha}" is not a full 40-character commit SHA, e.g. \${{ github.sha }}` },
    ),
  ),
  'build-run-url': optional(),
  approver: optional(),
  'started-at': optionalOf(
    checkedBy((at) =>
      ISO_TIME.test(at) && Number.isFinite(Date.parse(at))
        ? { value: at }
        : { problem: `"${at}" is not an ISO 8601 time, e.g. 2025-11-02T15:49:00Z` },
    ),
  ),
  jobs: lines<{ name: string; result: string }>((line) => {
    const pair = splitPair(line, '=');
    if (!pair) return { problem: `"${line}" is not name=result, e.g. deploy=\${{ needs.deploy.result }}` };
    // A job that did not run leaves `${{ needs.x.result }}` empty: nothing to record.
    if (pair[1] !== '' && !JOB_RESULTS.includes(pair[1]))
      return { problem: `"${line}": the result must be one of ${JOB_RESULTS.join(', ')}` };
    return { value: { name: pair[0], result: pair[1] || 'skipped' } };
  }),
  'run-url': optional(),
  'ledger-path': optional(),
  'fail-on-no-go': withDefault('false', boolean()),
  require: withDefault(
    'verify, gates, switch, health',
    z.string().transform((text, ctx) => {
      const stages = parseList(text, { commas: true });
      const unknown = stages.filter((stage) => !EVIDENCE_STAGES.includes(stage));
      if (unknown.length === 0) return stages as ReportStage[];
      ctx.addIssue({
        code: 'custom',
        message: `${unknown.map((stage) => `"${stage}"`).join(', ')} is not a stage a deploy leaves evidence of; use stages of ${EVIDENCE_STAGES.join(', ')}, e.g. verify, gates, rollout, health`,
      });
      return z.NEVER;
    }),
  ),
  'report-path': optional(),
} satisfies Record<string, z.ZodType<unknown, string>>;

type LedgerInputs = z.output<z.ZodObject<typeof deploymentLedgerInputs>>;

/**
 * Where the ledger goes (`ledger-path`, else beside the step's report), checked before any report is read; and that
 * there is something to read.
 */
export async function ledgerPath(inputs: LedgerInputs, defaultReportPath: string): Promise<string> {
  if (inputs.reports.length === 0 && !inputs['reports-dir']) {
    throw new InputError(
      'reports',
      "is empty, and so is reports-dir: give the actions' JSON reports (their report outputs, one per line) or the directory they are in",
    );
  }
  const path =
    inputs['ledger-path'] ?? defaultReportPath.replace(/deployment-ledger-report\.json$/, 'deployment-ledger.json');
  const unwritable = inputs['ledger-path'] ? await unwritableFile(path) : undefined;
  if (unwritable) throw new InputError('ledger-path', unwritable);
  return path;
}

/** What the workflow and the runner know that no report says. */
export function ledgerFacts(inputs: LedgerInputs, github: GitHubFacts): LedgerFacts {
  const { run, repository, actor, runUrl } = github;
  return {
    run: {
      url: inputs['run-url'] ?? runUrl ?? null,
      id: run ? String(run.id) : null,
      attempt: run ? String(run.attempt) : null,
      repository: repository ? `${repository.owner}/${repository.repo}` : null,
      actor: actor ?? null,
    },
    environment: inputs.environment,
    approver: inputs.approver,
    sha: inputs.sha,
    buildRunUrl: inputs['build-run-url'],
    startedAt: inputs['started-at'],
    endedAt: new Date().toISOString(),
    jobs: inputs.jobs,
    require: inputs.require,
  };
}
