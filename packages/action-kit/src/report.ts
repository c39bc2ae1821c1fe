import { isAbsolute, resolve } from 'node:path';
import type { Redactor } from '#core/redact.js';
import { writeJsonReport } from '#core/report/json.js';
import {
  REPORT_VERSION,
  reportDocumentSchema,
  type ReportDocument,
  type ReportFacts,
  type ReportRun,
  type ReportStage,
} from '#core/report/document.js';
import type { CheckResult } from '#core/report/result.js';
import type { GitHubFacts } from './github.js';

export type { ReportFacts } from '#core/report/document.js';

/** Where and when the phase's report is written, fixed as the phase starts. */
export interface ReportPlan {
  path: string;
  stage: ReportStage;
  startedAt: Date;
  startedMs: number;
  /** The runner's facts (context.github); none outside a runner. */
  github?: GitHubFacts;
}

/**
 * The report's path: the action's `report-path` input (relative to the workspace) when it has one and it is set,
 * else RUNNER_TEMP/deploy-gates/<action>-report.json.
 */
export function reportPath(inputs: Record<string, unknown>, workspace: string, fallback: string): string {
  const given = inputs['report-path'];
  if (typeof given !== 'string' || given === '') return fallback;
  return isAbsolute(given) ? given : resolve(workspace, given);
}

/** The report's facts about this step, from the envelope's context.github (null outside a runner). */
export function runnerFacts(github: GitHubFacts | undefined): ReportRun {
  const repository = github?.repository;
  const run = github?.run;
  return {
    repository: repository ? `${repository.owner}/${repository.repo}` : null,
    id: run ? String(run.id) : null,
    attempt: run?.attempt ?? null,
    job: run?.job || null,
    step: run?.step || null,
  };
}

const releaseName = (release: string | null | undefined) =>
  release ? (release.replace(/\/+$/, '').split('/').pop() ?? null) || null : null;
const lowerHex = (value: string | null | undefined) => (value ? value.toLowerCase() : null);

/** The report document of one phase, validated against the schema (a document that does not fit is a bug). */
export function reportDocument(
  action: string,
  plan: ReportPlan,
  outcome: { results: readonly CheckResult[]; failure?: string; report?: ReportFacts },
  now: number,
): ReportDocument {
  const facts = outcome.report ?? {};
  const document: ReportDocument = {
    version: REPORT_VERSION,
    action,
    stage: facts.stage ?? plan.stage,
    ok: outcome.failure === undefined && outcome.results.every((item) => item.status !== 'fail'),
    startedAt: plan.startedAt.toISOString(),
    durationMs: Math.max(0, Math.round(now - plan.startedMs)),
    release: releaseName(facts.release),
    sha: lowerHex(facts.sha),
    bundleSha256: lowerHex(facts.bundleSha256),
    previousRelease: releaseName(facts.previousRelease),
    currentRelease: releaseName(facts.currentRelease),
    rolledBack: facts.rolledBack ?? false,
    run: runnerFacts(plan.github),
    // Float noise (12.590203000000002) is not evidence: whole milliseconds, as the summary shows them.
    results: outcome.results.map(({ name, status, detail, durationMs }) => ({
      name,
      status,
      detail,
      durationMs: Math.max(0, Math.round(durationMs)),
    })),
    details: wholeDurations(facts.details ?? {}),
  };
  return reportDocumentSchema().parse(document) as ReportDocument;
}

/** The action's details with every `durationMs` in whole milliseconds, as the document's own (no float noise). */
function wholeDurations<T extends object>(details: T): T {
  const round = (key: string, value: unknown) =>
    key === 'durationMs' && typeof value === 'number' ? Math.round(value) : value;
  return JSON.parse(JSON.stringify(details, round)) as T;
}

/** Writes the document, every string masked (see writeJsonReport). */
export async function writeReport(path: string, document: ReportDocument, redactor: Redactor): Promise<void> {
  await writeJsonReport(path, document, redactor);
}
