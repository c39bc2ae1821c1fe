import { z } from 'zod';
import type { CheckResult } from './result.js';

/**
 * The one report document every action writes (format version 1): what the action checked or did, as evidence that
 * the deployment ledger and other tools read by this schema — never by file or action name. The JSON Schema generated
 * from it is committed as schemas/report.v1.json (`npm run schema`; a test keeps it fresh).
 *
 * Additive changes (a new optional field) keep the version, so readers ignore fields they do not know; a change a
 * reader relies on bumps it. A fact the action does not know is `null`, never left out.
 */
export const REPORT_VERSION = 1;

/**
 * What part of a deploy a report is evidence of, in the order a deploy runs them; the ledger orders reports by it.
 * `link` the shared files linked into a release before its gates (release-switch `mode: link`); `rollback` is a
 * switch back to the previous release (release-switch `mode: rollback`); `record` the environment's
 * deployment record on GitHub (deployment-record); `inventory` a look at what is on a target (the releases action).
 */
export const REPORT_STAGES = [
  'pack',
  'resolve',
  'verify',
  'link',
  'backup',
  'gates',
  'switch',
  'rollout',
  'health',
  'smoke',
  'egress',
  'rollback',
  'record',
  'inventory',
  'audit',
  'ledger',
] as const;
export type ReportStage = (typeof REPORT_STAGES)[number];

/** Where the runner ran the action: the ledger keeps the newest attempt's report of each step. */
export interface ReportRun {
  /** GITHUB_REPOSITORY, e.g. `octo-org/app`. */
  repository: string | null;
  /** GITHUB_RUN_ID: one workflow run, the same across its re-run attempts. */
  id: string | null;
  /** GITHUB_RUN_ATTEMPT: 1 for the first attempt, 2 for the first re-run, … */
  attempt: number | null;
  /** GITHUB_JOB: the job's id in the workflow. */
  job: string | null;
  /** GITHUB_ACTION: the step's id (or the runner's `__owner_repo` name for a step without one), stable across attempts. */
  step: string | null;
}

export interface ReportDocument {
  version: typeof REPORT_VERSION;
  /** The action that wrote it, e.g. `release-switch`. */
  action: string;
  stage: ReportStage;
  /** The step's verdict: no check failed and the action did not fail. */
  ok: boolean;
  /** When the action's phase started (ISO 8601, UTC). */
  startedAt: string;
  /** Whole milliseconds from the phase's start to the report. */
  durationMs: number;
  /** The release directory name this evidence is about (`20251102_154900-f0959baf`), when the action knows it. */
  release: string | null;
  /** The commit SHA (full or at least 7 hex digits) this evidence is about, when the action knows it. */
  sha: string | null;
  /** The SHA-256 of the bundle this evidence is about, when the action knows it. */
  bundleSha256: string | null;
  /** What `current` pointed to before the action, when it looked (a switch, a rollout, a rollback). */
  previousRelease: string | null;
  /** What `current` points to after the action, when it looked. */
  currentRelease: string | null;
  /** The action moved `current` back to an earlier release (its own rollback, or `mode: rollback`). */
  rolledBack: boolean;
  run: ReportRun;
  /** The rows of the action's summary table. */
  results: CheckResult[];
  /** The action's own evidence (its settings, per-service states, violations, …); its shape is the action's. */
  details: unknown;
}

/** What an action tells the envelope about its evidence; the envelope adds the rest of the report document. */
export interface ReportFacts {
  /** The stage when it is not the action's declared one (release-switch `mode: rollback` → `rollback`). */
  stage?: ReportStage;
  /** A release directory name or path (`releases/20251102_154900-f0959baf`); the document keeps its name. */
  release?: string | null;
  sha?: string | null;
  bundleSha256?: string | null;
  previousRelease?: string | null;
  currentRelease?: string | null;
  rolledBack?: boolean;
  /** The action's own evidence, the document's `details`. */
  details?: unknown;
}

const nullableText = () => z.string().min(1).nullable();
const hex = (min: number, max: number) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-f]{${min},${max}}$`))
    .nullable();

function buildSchema() {
  const result = z.object({
    name: z.string(),
    status: z.enum(['pass', 'fail', 'skip']),
    detail: z.string(),
    durationMs: z.int().nonnegative(),
  });
  const run = z.object({
    repository: nullableText(),
    id: nullableText(),
    attempt: z.int().positive().nullable(),
    job: nullableText(),
    step: nullableText(),
  });
  return z
    .looseObject({
      version: z.literal(REPORT_VERSION),
      action: z.string().min(1),
      stage: z.enum(REPORT_STAGES),
      ok: z.boolean(),
      startedAt: z.iso.datetime(),
      durationMs: z.int().nonnegative(),
      release: nullableText(),
      sha: hex(7, 40),
      bundleSha256: hex(64, 64),
      previousRelease: nullableText(),
      currentRelease: nullableText(),
      rolledBack: z.boolean(),
      run,
      results: z.array(result),
      details: z.unknown(),
    })
    .meta({
      title: 'deploy-gates report document, version 1',
      description: 'The evidence one deploy-gates action writes; see the README section "Report documents".',
    });
}

let schema: ReturnType<typeof buildSchema> | undefined;

/** The zod schema of a report document, built on first use (a bundle's start does not pay for it). */
export function reportDocumentSchema(): ReturnType<typeof buildSchema> {
  return (schema ??= buildSchema());
}

/** The JSON Schema (draft 2020-12) of a report document: what schemas/report.v1.json holds. */
export function reportJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(reportDocumentSchema(), { io: 'output' }) as Record<string, unknown>;
}

/** A report document checked against the schema; the zod error says which field is wrong. */
export function parseReportDocument(value: unknown): z.ZodSafeParseResult<ReportDocument> {
  return reportDocumentSchema().safeParse(value) as z.ZodSafeParseResult<ReportDocument>;
}
