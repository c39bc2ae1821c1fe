import { z } from 'zod';
import { REPORT_STAGES, type ReportDocument, type ReportStage } from '../report/document.js';
import type { ReportFile } from './read.js';
import {
  LEDGER_FORMAT,
  LEDGER_VERSION,
  ledgerSchema,
  ledgerServiceSchema,
  ledgerServicesRollbackSchema,
  type Ledger,
  type LedgerStage,
} from './schema.js';

export type { ReportFile } from './read.js';

/** The stages a GO needs evidence of unless the workflow says otherwise (deployment-ledger's `require`). */
export const DEFAULT_REQUIRED_STAGES: readonly ReportStage[] = ['verify', 'gates', 'switch', 'health'];

/** What the workflow knows that no report says. */
export interface LedgerFacts {
  run?: Partial<Ledger['run']>;
  environment?: string;
  approver?: string;
  sha?: string;
  buildRunUrl?: string;
  startedAt?: string;
  endedAt: string;
  jobs?: readonly { name: string; result: string }[];
  /** Stages a GO needs a report of; DEFAULT_REQUIRED_STAGES unless given. */
  require?: readonly ReportStage[];
}

/**
 * One report per step: a re-run attempt's report replaces the earlier attempt's report of the same step (same run,
 * job, step and action), whichever order the artifacts were downloaded in. Reports without runner facts (written
 * outside a runner) are each their own step.
 */
export function newestAttempts(reports: readonly ReportFile[]): { kept: ReportFile[]; replaced: ReportFile[] } {
  const newest = new Map<string, ReportFile>();
  const replaced: ReportFile[] = [];
  reports.forEach((report, index) => {
    const { run, action } = report.document;
    const key = run.id && run.job && run.step ? JSON.stringify([run.id, run.job, run.step, action]) : `#${index}`;
    const seen = newest.get(key);
    if (!seen) return newest.set(key, report);
    const later = (report.document.run.attempt ?? 0) - (seen.document.run.attempt ?? 0);
    const newer = later > 0 || (later === 0 && report.document.startedAt > seen.document.startedAt);
    replaced.push(newer ? seen : report);
    if (newer) newest.set(key, report);
  });
  return { kept: reports.filter((report) => [...newest.values()].includes(report)), replaced };
}

/**
 * The deploy's order: by stage, except that whatever started after a rollback (the health check of the previous
 * release) comes after it; the start time orders reports of one stage.
 */
function inDeployOrder(reports: readonly ReportFile[]): ReportFile[] {
  const rollbacks = reports.filter((r) => r.document.stage === 'rollback').map((r) => r.document.startedAt);
  const firstRollback = rollbacks.length > 0 ? rollbacks.sort()[0]! : undefined;
  const rank = ({ document }: ReportFile) =>
    (firstRollback !== undefined && document.stage !== 'rollback' && document.startedAt > firstRollback ? 100 : 0) +
    REPORT_STAGES.indexOf(document.stage);
  return [...reports].sort((a, b) => rank(a) - rank(b) || a.document.startedAt.localeCompare(b.document.startedAt));
}

/** The commit a release name claims: only names as pack-bundle makes them (`20251102_154900-f0959baf`). */
const releaseSha = (release: string) => /^\d{8}_\d{6}-([0-9a-f]{7,40})$/.exec(release)?.[1];

/** What a report's claims are compared with: this run's repository and id (from the runner), when known. */
export interface ThisRun {
  repository?: string | null;
  id?: string | null;
}

/**
 * Whether every report is about the same release, commit and bundle, and comes from this deploy: a verify report of
 * one release beside a switch report of another is no evidence of either, and neither is a report of another
 * repository or run (an earlier run's artifact) — but for the bundle's `pack` report, which the build run wrote.
 * Reports without runner facts (written outside a runner) are judged by their claims alone. Returns the
 * disagreement, naming the reports, or undefined.
 */
export function evidenceMismatch(
  reports: readonly ReportFile[],
  sha: string | undefined,
  run: ThisRun = {},
): string | undefined {
  const claims = (field: 'release' | 'sha' | 'bundleSha256') =>
    reports.flatMap(({ file, document }) => (document[field] ? [{ file, value: document[field] }] : []));
  const problems: string[] = [];
  const releases = claims('release');
  problems.push(...disagreements('release', releases));
  // A release name ending in the commit's short SHA (…-f0959baf) is a claim about the commit too.
  const shas = [
    ...(sha ? [{ file: 'the sha input', value: sha }] : []),
    ...claims('sha'),
    ...releases.flatMap(({ file, value }) => (releaseSha(value) ? [{ file, value: releaseSha(value)! }] : [])),
  ];
  problems.push(...commitDisagreements(shas));
  problems.push(...disagreements('bundle SHA-256', claims('bundleSha256')));
  problems.push(...foreignReports(reports, run));
  return problems.length > 0 ? `evidence does not match: ${problems.join('; ')}` : undefined;
}

type Claim = { file: string; value: string };

/** The first claim that differs from the first one, as `label A in x but B in y`. */
function disagreements(label: string, claims: readonly Claim[]): string[] {
  const [first] = claims;
  const other = claims.find((claim) => claim.value !== first!.value);
  return first && other ? [`${label} ${first.value} in ${first.file} but ${other.value} in ${other.file}`] : [];
}

/**
 * Commits agree when each is a prefix of the longest one (a short SHA of it): every pair then agrees. Comparing each
 * with the first alone would let `f0959baf`, `f0959baf1…` and `f0959baf2…` pass.
 */
function commitDisagreements(claims: readonly Claim[]): string[] {
  const longest = claims.reduce<Claim | undefined>(
    (a, b) => (!a || b.value.length > a.value.length ? b : a),
    undefined,
  );
  const other = claims.find((claim) => !longest!.value.startsWith(claim.value));
  return longest && other ? [`commit ${longest.value} in ${longest.file} but ${other.value} in ${other.file}`] : [];
}

/** Reports written by another repository's runs, or by another run of this one (but the build run's `pack`). */
function foreignReports(reports: readonly ReportFile[], run: ThisRun): string[] {
  return reports.flatMap(({ file, document }) => {
    const { repository, id } = document.run;
    if (run.repository && repository && repository !== run.repository)
      return [`${file} is from ${repository}, not ${run.repository}`];
    if (run.id && id && id !== run.id && document.stage !== 'pack') return [`${file} is from run ${id}, not ${run.id}`];
    return [];
  });
}

/** A stage passed when its report says so and none of its results failed (a report can only claim, not prove). */
function stageOf({ name, document }: ReportFile): LedgerStage {
  const { action, stage, ok, durationMs, results, release, run } = document;
  const passed = ok && !results.some((result) => result.status === 'fail');
  return { name, action, stage, ok: passed, durationMs, release, attempt: run.attempt, results };
}

/** Where the releases stand, from the reports in deploy order: the first `previous`, the last `current`. */
function releasesOf(reports: readonly ReportFile[]) {
  const docs = reports.map((report) => report.document);
  const first = <K extends keyof ReportDocument>(key: K) => docs.find((doc) => doc[key] !== null)?.[key] ?? null;
  const last = <K extends keyof ReportDocument>(key: K) => docs.findLast((doc) => doc[key] !== null)?.[key] ?? null;
  // The services of a rollout, read by their schema wherever a report's details carry them.
  const rollout = docs
    .map((doc) => z.object({ services: z.array(ledgerServiceSchema()).min(1) }).safeParse(doc.details))
    .findLast((parsed) => parsed.success)?.data;
  const rollbackDetails = docs
    .map((doc) => z.object({ rollback: ledgerServicesRollbackSchema() }).safeParse(doc.details))
    .findLast((parsed) => parsed.success)?.data;
  return {
    previous: first('previousRelease') as string | null,
    new: first('release') as string | null,
    current: last('currentRelease') as string | null,
    sha256: first('bundleSha256') as string | null,
    sha: first('sha') as string | null,
    rolledBack: docs.some((doc) => doc.rolledBack),
    services: rollout?.services ?? null,
    servicesRollback: rollbackDetails?.rollback ?? null,
  };
}

interface Judged {
  stages: LedgerStage[];
  releases: ReturnType<typeof releasesOf>;
  mismatch: string | undefined;
  missing: ReportStage[];
  jobs: readonly { name: string; result: string }[];
  environment?: string;
}

/** GO, or NO-GO with every reason, in the order a reader should fix them. */
function judge({ stages, releases, mismatch, missing, jobs, environment }: Judged): { go: boolean; reason: string } {
  const failedStages = stages.filter((stage) => !stage.ok);
  const failedJobs = jobs.filter((job) => job.result === 'failure' || job.result === 'cancelled');
  const live = releases.new !== null && releases.current === releases.new;
  const reasons = [
    ...(mismatch ? [mismatch] : []),
    ...failedStages.map((stage) => `${stage.name} failed`),
    ...failedJobs.map((job) => `job ${job.name} ${job.result}`),
    ...(missing.length > 0 ? [`no report of stage ${missing.join(', ')}`] : []),
  ];
  if (reasons.length === 0 && !releases.rolledBack && live) {
    const checks = stages.reduce((sum, stage) => sum + stage.results.filter((r) => r.status === 'pass').length, 0);
    return {
      go: true,
      reason: `${releases.new} is live${environment ? ` on ${environment}` : ''}; ${checks} gates and checks passed`,
    };
  }
  if (reasons.length === 0)
    reasons.push(releases.new === null ? 'no report names the release' : 'the new release is not live');
  const after = releases.rolledBack
    ? `; rolled back to ${releases.current ?? 'the previous release'}`
    : live
      ? ''
      : releases.current
        ? `; current is ${releases.current}`
        : '; nothing was switched';
  return { go: false, reason: `${reasons.join(', ')}${after}` };
}

/**
 * The ledger of one deploy from the report documents and the workflow's facts; validated against the ledger schema.
 * It knows stages, not actions: a new action's reports count once they carry a stage.
 */
export function buildLedger(reports: readonly ReportFile[], facts: LedgerFacts): Ledger {
  // A ledger's own report is not evidence of the deploy.
  const evidence = inDeployOrder(newestAttempts(reports.filter((r) => r.document.stage !== 'ledger')).kept);
  const stages = evidence.map(stageOf);
  const releases = releasesOf(evidence);
  const present = new Set(evidence.map((report) => report.document.stage));
  const jobs = [...(facts.jobs ?? [])];
  const { go, reason } = judge({
    stages,
    releases,
    mismatch: evidenceMismatch(evidence, facts.sha, { repository: facts.run?.repository, id: facts.run?.id }),
    missing: (facts.require ?? DEFAULT_REQUIRED_STAGES).filter((stage) => !present.has(stage)),
    jobs,
    environment: facts.environment,
  });
  return ledgerSchema().parse({
    format: LEDGER_FORMAT,
    version: LEDGER_VERSION,
    verdict: go ? 'GO' : 'NO-GO',
    reason,
    run: { url: null, id: null, attempt: null, repository: null, actor: null, ...facts.run },
    environment: facts.environment || null,
    approver: facts.approver || null,
    sha: facts.sha || releases.sha,
    buildRun: { url: facts.buildRunUrl || null },
    bundle: { sha256: releases.sha256 },
    releases: { previous: releases.previous, new: releases.new, current: releases.current },
    rolledBack: releases.rolledBack,
    startedAt: facts.startedAt || null,
    endedAt: facts.endedAt,
    stages,
    jobs,
    services: releases.services,
    servicesRollback: releases.servicesRollback,
  });
}
