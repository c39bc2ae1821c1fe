import { z } from 'zod';
import { once } from '../lazy.js';

/**
 * The deployment ledger, format `deploy-gates/deployment-ledger` version 1: what one deploy did, as evidence.
 * Additive changes (a new optional field) keep the version; anything a reader relies on changing bumps it.
 * Times are ISO 8601 (UTC), durations milliseconds; a fact that is not known is `null`, never left out.
 */
export const LEDGER_FORMAT = 'deploy-gates/deployment-ledger';
export const LEDGER_VERSION = 1;

/** The ledger's schemas, built on first use (see ../lazy.ts). */
const schemas = once(() => {
  const checkResult = z.object({
    name: z.string(),
    status: z.enum(['pass', 'fail', 'skip']),
    detail: z.string(),
    durationMs: z.number().nonnegative(),
  });

  /** One action's report as the ledger keeps it: whether it passed and each gate's or check's result. */
  const ledgerStageSchema = z.object({
    /** The report's file name without `.json`/`-report`: `verify-bundle-sha`, `rollback`, `rollback-health-retry`, … */
    name: z.string(),
    /** The action that wrote the report. */
    action: z.string(),
    /** The report's stage (`verify`, `gates`, `switch`, `health`, `rollback`, …): what orders the ledger. */
    stage: z.string(),
    ok: z.boolean(),
    /** The action's duration, whole milliseconds. */
    durationMs: z.number().nonnegative(),
    /** The release the report is about, when it names one. */
    release: z.string().nullable(),
    /** The run attempt that wrote it (the newest attempt's report of a step is the one kept). */
    attempt: z.number().nullable(),
    results: z.array(checkResult),
  });

  const serviceHealth = z
    .object({ healthy: z.boolean(), attempts: z.number(), durationMs: z.number().nonnegative(), detail: z.string() })
    .nullable();

  /** One service of a release-services rollout, in rollout order (additive in version 1). */
  const ledgerServiceSchema = z.object({
    name: z.string(),
    target: z.string(),
    releasesRoot: z.string(),
    /** What `current` pointed to before this run, as the run recorded it. */
    previousRelease: z.string().nullable(),
    newRelease: z.string(),
    switched: z.boolean(),
    health: serviceHealth,
    state: z.enum(['deployed', 'failed', 'rolled-back', 'rollback-failed', 'untouched']),
    rolledBack: z.boolean(),
    rolledBackAt: z.string().nullable(),
    rollbackHealth: serviceHealth,
    failure: z.string().nullable(),
  });

  /** The coordinated rollback of a release-services rollout: its order and time against the budget (15 minutes). */
  const ledgerServicesRollbackSchema = z.object({
    order: z.array(z.string()),
    ok: z.boolean(),
    durationMs: z.number().nonnegative(),
    budgetMs: z.number().nonnegative(),
    withinBudget: z.boolean(),
    trigger: z.string(),
  });

  const ledgerSchema = z.object({
    format: z.literal(LEDGER_FORMAT),
    version: z.literal(LEDGER_VERSION),
    /** GO: the new release is live and every stage and job passed. NO-GO otherwise (`reason` says why). */
    verdict: z.enum(['GO', 'NO-GO']),
    reason: z.string(),
    run: z.object({
      url: z.string().nullable(),
      id: z.string().nullable(),
      attempt: z.string().nullable(),
      repository: z.string().nullable(),
      actor: z.string().nullable(),
    }),
    environment: z.string().nullable(),
    /** Who approved the environment's protection rule, when it required one. */
    approver: z.string().nullable(),
    sha: z.string().nullable(),
    buildRun: z.object({ url: z.string().nullable() }),
    bundle: z.object({ sha256: z.string().nullable() }),
    releases: z.object({
      /** What `current` pointed to before the deploy. */
      previous: z.string().nullable(),
      /** The release this deploy unpacked and switched to. */
      new: z.string().nullable(),
      /** What `current` points to at the end (the previous release after a rollback). */
      current: z.string().nullable(),
    }),
    rolledBack: z.boolean(),
    startedAt: z.string().nullable(),
    endedAt: z.string(),
    stages: z.array(ledgerStageSchema),
    /** Per service, when the deploy used release-services (null otherwise). */
    services: z.array(ledgerServiceSchema).nullable().default(null),
    /** The coordinated rollback of release-services, when one ran (null otherwise). */
    servicesRollback: ledgerServicesRollbackSchema.nullable().default(null),
    /** The result of each job of the deploy workflow (`success`, `failure`, `cancelled`, `skipped`), when known. */
    jobs: z.array(z.object({ name: z.string(), result: z.string() })),
  });
  return { ledgerStageSchema, ledgerServiceSchema, ledgerServicesRollbackSchema, ledgerSchema };
});

export const ledgerStageSchema = () => schemas().ledgerStageSchema;
export const ledgerServiceSchema = () => schemas().ledgerServiceSchema;
export const ledgerServicesRollbackSchema = () => schemas().ledgerServicesRollbackSchema;
export const ledgerSchema = () => schemas().ledgerSchema;

export type Ledger = z.infer<ReturnType<typeof ledgerSchema>>;
export type LedgerStage = z.infer<ReturnType<typeof ledgerStageSchema>>;
