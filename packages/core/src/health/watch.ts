import type { Dispatcher } from 'undici';
import type { CoreContext } from '../context.js';
import { percentile } from '../http/load.js';
import { formatDuration } from '../units/duration.js';
import { queryPrometheus, type PrometheusSource } from './prometheus.js';
import { compare, thresholdValue, type PrometheusQuery } from './prometheus-queries.js';
import { timeline } from './timeline.js';
import type { WatchEndpointReport, WatchQueryReport, WatchReport } from './watch-report.js';
import { sloText, windowResults } from './watch-results.js';

/** The watch window after the first healthy pass (seed 004: "unhealthy continuously for 3 minutes" rolls back). */
export interface WatchConfig {
  windowMs: number;
  /** How long an endpoint may go without a healthy answer (default: interval × attempts). */
  unhealthyForMs: number;
  /** Judged over every probe of the window at its end; unset = measured, not enforced. */
  p95Ms?: number;
  maxErrorRate?: number;
  prometheus?: { source: PrometheusSource; queries: readonly PrometheusQuery[] };
  /** A cancelled job: the window stops at once and is reported as not completed. */
  signal?: AbortSignal;
}

/** What the window probes: each configured URL (the asset manifest is checked by the first pass only). */
export interface WatchedEndpoint {
  url: string;
  probe(): Promise<{ pass: boolean; status?: number; latencyMs: number; reason: string }>;
}

interface Sample {
  atMs: number;
  pass: boolean;
  status?: number;
  latencyMs: number;
  reason: string;
}

interface EndpointState {
  endpoint: WatchedEndpoint;
  samples: Sample[];
  /** Offset of the last healthy answer (the first pass counts, at 0). */
  healthyAtMs: number;
}

interface QueryState {
  query: PrometheusQuery;
  report: WatchQueryReport;
  /** Offset of the last evaluation that gave a value. */
  answeredAtMs: number;
}

/** Everything one window works with. */
interface Window {
  config: WatchConfig;
  intervalMs: number;
  context: CoreContext;
  dispatcher: Dispatcher;
  timeoutMs: number;
  startMs: number;
  endpoints: EndpointState[];
  queries: QueryState[];
}

const elapsed = (w: Window) => w.context.now() - w.startMs;
const num = (value: number) => (Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6))));

/** One tick's probe of an endpoint; a failure when it has had no healthy answer for unhealthy-for. */
async function probeEndpoint(state: EndpointState, w: Window): Promise<string | undefined> {
  const probe = await state.endpoint.probe();
  const atMs = elapsed(w);
  const reason = w.context.redactor.redact(probe.reason);
  state.samples.push({ atMs, pass: probe.pass, status: probe.status, latencyMs: Math.round(probe.latencyMs), reason });
  const answer = probe.status === undefined ? reason : `HTTP ${probe.status}: ${reason}`;
  if (probe.pass) {
    state.healthyAtMs = atMs;
    return undefined;
  }
  const down = atMs - state.healthyAtMs;
  w.context.logger.info(
    `Watch +${formatDuration(atMs)} ${state.endpoint.url} → ${answer} (unhealthy for ${formatDuration(down)})`,
  );
  if (down < w.config.unhealthyForMs) return undefined;
  return `${state.endpoint.url} was unhealthy for ${formatDuration(down)} in a row during the watch window (unhealthy-for ${formatDuration(w.config.unhealthyForMs)}): ${answer}`;
}

/** One tick's evaluation of a Prometheus query; a failure on a breach, or when it could not be evaluated for unhealthy-for. */
async function evaluateQuery(state: QueryState, w: Window): Promise<string | undefined> {
  const { query, report } = state;
  const answer = await queryPrometheus(w.config.prometheus!.source, query.expr, {
    timeoutMs: w.timeoutMs,
    dispatcher: w.dispatcher,
    redactor: w.context.redactor,
  });
  const atMs = elapsed(w);
  report.evaluations++;
  if (!answer.ok) {
    report.errors++;
    report.lastError = answer.error;
    const down = atMs - state.answeredAtMs;
    w.context.logger.info(`Prometheus query "${query.name}" failed at +${formatDuration(atMs)}: ${answer.error}`);
    if (down < w.config.unhealthyForMs) return undefined;
    return `Prometheus query "${query.name}" could not be evaluated for ${formatDuration(down)} (unhealthy-for ${formatDuration(w.config.unhealthyForMs)}): ${answer.error}`;
  }
  state.answeredAtMs = atMs;
  if (answer.series === 0) report.emptyResults++;
  const { value } = answer;
  report.last = value;
  report.min = report.min === null ? value : Math.min(report.min, value);
  report.max = report.max === null ? value : Math.max(report.max, value);
  const threshold = thresholdValue(query.threshold, report.baseline ?? undefined);
  if (compare(value, query.op, threshold)) return undefined;
  report.breach = { atMs, value, threshold };
  return `Prometheus query "${query.name}" breached at +${formatDuration(atMs)}: ${queryVerdict(query, report, value, threshold)}`;
}

/** `value 0.42 is not < 0.3 (threshold 1.5 * <baseline>, baseline 0.2)` — and why a zero baseline cannot pass `<`. */
function queryVerdict(query: PrometheusQuery, report: WatchQueryReport, value: number, threshold: number): string {
  const baseline = report.baseline === null ? '' : `, baseline ${num(report.baseline)}`;
  const empty = report.emptyResults > 0 && value === 0 ? '; no series, counted as 0' : '';
  const zero =
    report.baseline === 0 && threshold === 0 && query.op === '<'
      ? '; with a baseline of 0, "<" cannot pass: use "<=" or add a floor, e.g. 1.5 * <baseline> + 0.1'
      : '';
  return `${query.expr} = ${num(value)}, not ${query.op} ${num(threshold)} (threshold ${query.thresholdText}${baseline})${empty}${zero}`;
}

/** The baselines: each query whose threshold uses one, evaluated at `baselineAt` (unix ms). A failure stops the window. */
async function evaluateBaselines(w: Window, baselineAt: number): Promise<string | undefined> {
  for (const { query, report } of w.queries.filter((q) => q.query.usesBaseline)) {
    const answer = await queryPrometheus(w.config.prometheus!.source, query.expr, {
      time: baselineAt / 1000,
      timeoutMs: w.timeoutMs,
      dispatcher: w.dispatcher,
      redactor: w.context.redactor,
    });
    if (!answer.ok)
      return `Prometheus query "${query.name}" failed for its baseline at ${new Date(baselineAt).toISOString()}: ${answer.error}`;
    report.baseline = answer.value;
    w.context.logger.info(
      `Prometheus query "${query.name}": baseline ${num(answer.value)}${answer.series === 0 ? ' (no series, counted as 0)' : ''}`,
    );
  }
  return undefined;
}

/** The ticks: every `interval`, every endpoint and every query at once, until the window ends, fails or is cancelled. */
async function tick(w: Window): Promise<{ failure?: string; cancelled: boolean }> {
  const { config, context } = w;
  while (elapsed(w) < config.windowMs) {
    await context.sleep(Math.min(w.intervalMs, config.windowMs - elapsed(w)), config.signal);
    if (config.signal?.aborted) return { cancelled: true };
    const failures = await Promise.all([
      ...w.endpoints.map((state) => probeEndpoint(state, w)),
      ...w.queries.map((state) => evaluateQuery(state, w)),
    ]);
    const failure = failures.find((f) => f !== undefined);
    if (failure) return { failure, cancelled: false };
  }
  return { cancelled: false };
}

function endpointReport(state: EndpointState): WatchEndpointReport {
  const { samples } = state;
  let longest = 0;
  let healthyAt = 0;
  for (const sample of samples) {
    if (sample.pass) healthyAt = sample.atMs;
    else longest = Math.max(longest, sample.atMs - healthyAt);
  }
  const failed = samples.filter((s) => !s.pass);
  const failure = (s: Sample | undefined) => (s ? { atMs: s.atMs, status: s.status, reason: s.reason } : null);
  return {
    url: state.endpoint.url,
    probes: samples.length,
    failures: failed.length,
    longestUnhealthyMs: longest,
    timeline: timeline(samples.map((s) => s.pass)),
    p95Ms:
      samples.length > 0
        ? percentile(
            samples.map((s) => s.latencyMs),
            95,
          )
        : null,
    firstFailure: failure(failed[0]),
    lastFailure: failure(failed.at(-1)),
  };
}

function windowSlo(w: Window): WatchReport['slo'] {
  const { p95Ms: p95LimitMs, maxErrorRate } = w.config;
  const samples = w.endpoints.flatMap((state) => state.samples);
  const errors = samples.filter((s) => !s.pass).length;
  const errorRate = samples.length === 0 ? 0 : errors / samples.length;
  const p95Ms =
    samples.length === 0
      ? null
      : percentile(
          samples.map((s) => s.latencyMs),
          95,
        );
  const pass =
    (p95LimitMs === undefined || p95Ms === null || p95Ms <= p95LimitMs) &&
    (maxErrorRate === undefined || errorRate <= maxErrorRate);
  return { probes: samples.length, errors, errorRate, p95Ms, p95LimitMs, maxErrorRate, pass };
}

/**
 * Watches the endpoints (and Prometheus queries) for `windowMs` after the first healthy pass: every `interval`,
 * each endpoint is probed and each query evaluated. It fails, and stops at once, when an endpoint goes without a
 * healthy answer for unhealthy-for, a query breaks its threshold, or a query cannot be evaluated for unhealthy-for;
 * at the end the window's error rate and p95 are judged. A cancelled job ends it early: reported, not completed.
 */
export async function watchWindow(
  endpoints: readonly WatchedEndpoint[],
  config: WatchConfig,
  run: { intervalMs: number; timeoutMs: number; baselineAt: number; dispatcher: Dispatcher; context: CoreContext },
): Promise<WatchReport> {
  const { context } = run;
  const w: Window = {
    ...run,
    config,
    startMs: context.now(),
    endpoints: endpoints.map((endpoint) => ({ endpoint, samples: [], healthyAtMs: 0 })),
    queries: (config.prometheus?.queries ?? []).map((query) => ({
      query,
      report: emptyQueryReport(query),
      answeredAtMs: 0,
    })),
  };
  const startedAt = new Date(w.startMs).toISOString();
  context.logger.info(
    `Watching ${endpoints.length} endpoint(s)${w.queries.length ? ` and ${w.queries.length} Prometheus quer${w.queries.length === 1 ? 'y' : 'ies'}` : ''} for ${formatDuration(config.windowMs)}, every ${formatDuration(run.intervalMs)}; an endpoint fails after ${formatDuration(config.unhealthyForMs)} without a healthy answer`,
  );
  const baselineFailure = w.queries.length > 0 ? await evaluateBaselines(w, run.baselineAt) : undefined;
  const ticked = baselineFailure ? { failure: baselineFailure, cancelled: false } : await tick(w);
  const slo = windowSlo(w);
  const sloFailure = !ticked.failure && !ticked.cancelled && !slo?.pass ? sloText(slo!) : undefined;
  const failure =
    ticked.failure ??
    sloFailure ??
    (ticked.cancelled
      ? `the job was cancelled ${formatDuration(elapsed(w))} into the ${formatDuration(config.windowMs)} watch window`
      : null);
  const report: Omit<WatchReport, 'results'> = {
    windowMs: config.windowMs,
    intervalMs: run.intervalMs,
    unhealthyForMs: config.unhealthyForMs,
    startedAt,
    elapsedMs: Math.round(elapsed(w)),
    completed: !ticked.failure && !ticked.cancelled,
    cancelled: ticked.cancelled,
    failure,
    endpoints: w.endpoints.map(endpointReport),
    queries: w.queries.map((q) => q.report),
    slo: config.p95Ms === undefined && config.maxErrorRate === undefined ? null : slo,
  };
  // Told as a line: the step's one failure annotation (the envelope's) carries it again.
  if (failure) context.logger.info(`Watch window failed: ${failure}`);
  return {
    ...report,
    results: windowResults(
      report,
      w.queries.map((q) => q.query),
    ),
  };
}

function emptyQueryReport(query: PrometheusQuery): WatchQueryReport {
  return {
    name: query.name,
    query: query.expr,
    op: query.op,
    threshold: query.thresholdText,
    baseline: null,
    evaluations: 0,
    errors: 0,
    emptyResults: 0,
    min: null,
    max: null,
    last: null,
    breach: null,
    lastError: null,
  };
}
