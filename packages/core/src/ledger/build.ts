import type { CheckResult } from '../report/result.js';
import { z } from 'zod';
import {
  LEDGER_FORMAT,
  LEDGER_VERSION,
  ledgerSchema,
  ledgerServiceSchema,
  ledgerServicesRollbackSchema,
  type Ledger,
  type LedgerStage,
} from './schema.js';

/** An action's JSON report as read from disk: its name (the file's, without `.json`) and its parsed content. */
export interface ReportFile {
  name: string;
  document: unknown;
}

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
}

type Doc = Record<string, unknown>;
const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0);

function results(doc: Doc): CheckResult[] {
  if (!Array.isArray(doc.results)) return [];
  return doc.results.flatMap((item: unknown) => {
    const r = item as Doc;
    if (typeof r?.name !== 'string' || !['pass', 'fail', 'skip'].includes(r.status as string)) return [];
    return [
      {
        name: r.name,
        status: r.status as CheckResult['status'],
        detail: typeof r.detail === 'string' ? r.detail : '',
        durationMs: num(r.durationMs),
      },
    ];
  });
}

/** The action that wrote a report: its `action` field, or the egress-sentinel's shape (`violations`, `tampered`). */
function actionOf(doc: Doc): string {
  if (typeof doc.action === 'string') return doc.action;
  if (Array.isArray(doc.violations) && typeof doc.tampered === 'boolean') return 'egress-sentinel';
  return 'unknown';
}

function stageOf({ name, document }: ReportFile): LedgerStage {
  const doc = (document ?? {}) as Doc;
  const action = actionOf(doc);
  let list = results(doc);
  let ok: boolean;
  switch (action) {
    case 'pre-switch-gates':
      ok = num(doc.failed) === 0 && list.every((r) => r.status !== 'fail');
      break;
    case 'health-retry':
      ok = doc.healthy === true;
      break;
    case 'egress-sentinel': {
      const violations = (doc.violations as unknown[]).length;
      ok = violations === 0 && doc.tampered !== true;
      if (list.length === 0) {
        const detail =
          doc.tampered === true
            ? 'tampering detected'
            : violations === 0
              ? 'only allowed endpoints were contacted'
              : `${violations} destination(s) outside the allow-list`;
        list = [{ name: 'Egress', status: ok ? 'pass' : 'fail', detail, durationMs: 0 }];
      }
      break;
    }
    default:
      ok = doc.ok === true || (doc.ok === undefined && list.length > 0 && list.every((r) => r.status !== 'fail'));
  }
  const durationMs =
    typeof doc.durationMs === 'number' ? num(doc.durationMs) : list.reduce((sum, r) => sum + r.durationMs, 0);
  return { name, action, ok, durationMs, results: list };
}

/** Where a stage belongs in a deploy, so the ledger reads in the order things happened whatever order the files came in. */
function rank(stage: LedgerStage, doc: Doc): number {
  const order = [
    'pack-bundle',
    'resolve-build-run',
    'verify-bundle-sha',
    'pre-switch-gates',
    'release-switch',
    'release-services',
    'health-retry',
    'egress-sentinel',
  ];
  const base = order.indexOf(stage.action);
  const afterRollback = doc.mode === 'rollback' || /rollback/i.test(stage.name);
  return (afterRollback ? 100 : 0) + (base < 0 ? 50 : base);
}

/** The ledger of one deploy from the actions' reports and the workflow's facts; validated against the schema. */
export function buildLedger(reports: readonly ReportFile[], facts: LedgerFacts): Ledger {
  const staged = reports.map((report, index) => ({
    stage: stageOf(report),
    doc: (report.document ?? {}) as Doc,
    index,
  }));
  staged.sort((a, b) => rank(a.stage, a.doc) - rank(b.stage, b.doc) || a.index - b.index);
  const stages = staged.map(({ stage }) => stage);

  let sha256: string | null = null;
  let unpacked: string | null = null;
  let previous: string | null = null;
  let switchedTo: string | null = null;
  let current: string | null = null;
  let rolledBack = false;
  let services: Ledger['services'] = null;
  let servicesRollback: Ledger['servicesRollback'] = null;
  for (const { doc } of staged) {
    const action = actionOf(doc);
    if (action === 'release-services') {
      const list = z.array(ledgerServiceSchema).safeParse(doc.services);
      if (!list.success || list.data.length === 0) continue;
      services = list.data;
      servicesRollback = ledgerServicesRollbackSchema
        .nullable()
        .catch(null)
        .parse(doc.rollback ?? null);
      const lead = list.data[0]!;
      previous = lead.previousRelease ?? previous;
      if (list.data.some((s) => s.switched)) switchedTo = lead.newRelease;
      if (servicesRollback) rolledBack = true;
      // Where the first service's `current` is at the end: the new release unless this run moved it back (or never moved it).
      current =
        lead.state === 'deployed' || (lead.switched && !lead.rolledBack)
          ? lead.newRelease
          : (lead.previousRelease ?? current);
      continue;
    }
    if (action === 'verify-bundle-sha' || action === 'pack-bundle') sha256 = str(doc.sha256) ?? sha256;
    if (action === 'verify-bundle-sha') unpacked = str(doc.releaseName) ?? unpacked;
    if (action !== 'release-switch') continue;
    if (doc.mode === 'rollback') {
      if (doc.switched === true) rolledBack = true;
      previous ??= str(doc.previousRelease);
    } else {
      previous = str(doc.previousRelease) ?? previous;
      if (doc.switched === true) switchedTo = str(doc.requested) ?? unpacked ?? str(doc.currentRelease);
      if (doc.rolledBack === true) rolledBack = true;
    }
    current = str(doc.currentRelease) ?? current;
  }
  const newRelease = switchedTo ?? unpacked;
  const jobs = [...(facts.jobs ?? [])];
  const failedStages = stages.filter((stage) => !stage.ok);
  const failedJobs = jobs.filter((job) => job.result === 'failure' || job.result === 'cancelled');

  let reason: string;
  const live = newRelease !== null && current !== null && releaseName(current) === releaseName(newRelease);
  const go = failedStages.length === 0 && failedJobs.length === 0 && !rolledBack && live;
  if (go) {
    const checks = stages.reduce((sum, stage) => sum + stage.results.filter((r) => r.status === 'pass').length, 0);
    reason = `${releaseName(newRelease!)} is live${facts.environment ? ` on ${facts.environment}` : ''}; ${checks} gates and checks passed`;
  } else {
    const failed = [
      ...failedStages.map((stage) => `${stage.name} failed`),
      ...failedJobs.map((job) => `job ${job.name} ${job.result}`),
    ];
    if (failed.length === 0)
      failed.push(newRelease === null ? 'no release was unpacked' : 'the new release is not live');
    const after = rolledBack
      ? `; rolled back to ${current ? releaseName(current) : 'the previous release'}`
      : live
        ? ''
        : current
          ? `; current is ${releaseName(current)}`
          : '; nothing was switched';
    reason = `${failed.join(', ')}${after}`;
  }

  return ledgerSchema.parse({
    format: LEDGER_FORMAT,
    version: LEDGER_VERSION,
    verdict: go ? 'GO' : 'NO-GO',
    reason,
    run: { url: null, id: null, attempt: null, repository: null, actor: null, ...facts.run },
    environment: facts.environment || null,
    approver: facts.approver || null,
    sha: facts.sha || null,
    buildRun: { url: facts.buildRunUrl || null },
    bundle: { sha256 },
    releases: {
      previous: previous && releaseName(previous),
      new: newRelease && releaseName(newRelease),
      current: current && releaseName(current),
    },
    rolledBack,
    startedAt: facts.startedAt || null,
    endedAt: facts.endedAt,
    stages,
    jobs,
    services,
    servicesRollback,
  });
}

/** `releases/20251102_154900-f0959baf` or a full path → `20251102_154900-f0959baf`. */
function releaseName(release: string): string {
  return release.replace(/\/+$/, '').split('/').pop() ?? release;
}
