import type { CheckResult } from '../report/result.js';
import { formatDuration } from '../units/duration.js';
import type { PrometheusQuery } from './prometheus-queries.js';
import type { WatchEndpointReport, WatchQueryReport, WatchReport } from './watch-report.js';

const percent = (rate: number) => `${Number((rate * 100).toFixed(2))}%`;
const num = (value: number) => (Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6))));

/** The window's p95 and error rate over every probe, with their limits. */
export function sloText(slo: NonNullable<WatchReport['slo']>): string {
  const limit = (text: string | undefined) => (text === undefined ? '' : ` (limit ${text})`);
  const p95 =
    slo.p95Ms === null
      ? 'p95 n/a'
      : `p95 ${Math.round(slo.p95Ms)} ms${limit(slo.p95LimitMs === undefined ? undefined : formatDuration(slo.p95LimitMs))}`;
  const errors = `errors ${percent(slo.errorRate)} of ${slo.probes} probes${limit(slo.maxErrorRate === undefined ? undefined : percent(slo.maxErrorRate))}`;
  return `the watch window's ${p95}, ${errors}${slo.pass ? '' : ': over the SLO'}`;
}

type Report = Omit<WatchReport, 'results'>;

function endpointRow(e: WatchEndpointReport, report: Report): CheckResult {
  const failed = e.longestUnhealthyMs >= report.unhealthyForMs && e.failures > 0;
  const longest = e.failures > 0 ? ` (longest ${formatDuration(e.longestUnhealthyMs)} without a healthy answer)` : '';
  const last = e.lastFailure
    ? `; last failure +${formatDuration(e.lastFailure.atMs)}: ${e.lastFailure.status === undefined ? '' : `HTTP ${e.lastFailure.status}: `}${e.lastFailure.reason}`
    : '';
  return {
    name: `watch ${e.url}`,
    status: failed ? 'fail' : 'pass',
    detail: `${e.timeline || '(no probe)'} ${e.probes - e.failures}/${e.probes} healthy over ${formatDuration(report.elapsedMs)}${longest}${last}`,
    durationMs: report.elapsedMs,
  };
}

function queryRow(q: WatchQueryReport, query: PrometheusQuery, report: Report): CheckResult {
  const failed = q.breach !== null || (report.failure?.startsWith(`Prometheus query "${q.name}"`) ?? false);
  const baseline = q.baseline === null ? '' : `, baseline ${num(q.baseline)}`;
  const range = q.min === null ? 'no value' : `min ${num(q.min)}, max ${num(q.max!)}, last ${num(q.last!)}`;
  const breach = q.breach
    ? `breached at +${formatDuration(q.breach.atMs)}: ${num(q.breach.value)} not ${q.op} ${num(q.breach.threshold)}; `
    : '';
  const errors = q.errors > 0 ? `; ${q.errors} failed evaluation(s), last: ${q.lastError}` : '';
  const empty = q.emptyResults > 0 ? `; ${q.emptyResults} without series (counted as 0)` : '';
  return {
    name: `prometheus ${q.name}: ${query.op} ${query.thresholdText}`,
    status: failed ? 'fail' : 'pass',
    detail: `${breach}${q.evaluations} evaluation(s): ${range}${baseline}${empty}${errors}`,
    durationMs: report.elapsedMs,
  };
}

/** The summary rows of a window: one per endpoint (with its timeline), one per query, the window's SLO, a cancellation. */
export function windowResults(report: Report, queries: readonly PrometheusQuery[]): CheckResult[] {
  const rows = report.endpoints.map((e) => endpointRow(e, report));
  report.queries.forEach((q, index) => rows.push(queryRow(q, queries[index]!, report)));
  if (report.slo)
    rows.push({
      name: 'watch window SLO',
      status: report.slo.pass ? 'pass' : 'fail',
      detail: sloText(report.slo),
      durationMs: report.elapsedMs,
    });
  if (report.cancelled)
    rows.push({ name: 'watch window', status: 'fail', detail: report.failure!, durationMs: report.elapsedMs });
  return rows;
}
