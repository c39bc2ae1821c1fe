import type { Agent } from 'undici';
import { formatDuration } from '../units/duration.js';
import { judgeResponse } from '../http/expectations.js';
import { httpRequest, type HttpRequestOptions } from '../http/request.js';
import { checkManifest } from '../http/manifest.js';
import { runLoad, type LoadResult } from '../http/load.js';
import { coreContext, type CoreContext } from '../context.js';
import type { Logger } from '../logger.js';
import type { Redactor } from '../redact.js';
import type { CheckResult } from '../report/result.js';
import { displayUrl, waitAfter, worstCaseMs, type HealthConfig } from './config.js';
import { watchWindow } from './watch.js';
import type { WatchReport } from './watch-report.js';

export interface AttemptRecord {
  attempt: number;
  startedAt: string;
  /** HTTP status of the final response; absent when no response came (timeout, refused, …). */
  status?: number;
  latencyMs: number;
  verdict: 'pass' | 'fail';
  reason: string;
  /** The Content-Encoding the body came in (decoded before it was judged), when it had one. */
  encoding?: string;
  /** Where the answer came from when redirects were followed, and how many. */
  finalUrl?: string;
  redirects?: number;
}

export interface EndpointReport {
  url: string;
  kind: 'endpoint' | 'asset-manifest';
  healthy: boolean;
  attempts: AttemptRecord[];
}

export interface SloReport extends LoadResult {
  url: string;
  concurrency: number;
  p95LimitMs?: number;
  maxErrorRate?: number;
  pass: boolean;
  durationMs: number;
}

export interface HealthOutcome {
  healthy: boolean;
  attemptsUsed: number;
  durationMs: number;
  worstCaseMs: number;
  endpoints: EndpointReport[];
  slo?: SloReport;
  /** The watch window after the first healthy pass, when one was configured and the pass was healthy. */
  watch?: WatchReport;
  results: CheckResult[];
}

interface Probe {
  status?: number;
  latencyMs: number;
  pass: boolean;
  reason: string;
  encoding?: string;
  finalUrl?: URL;
  redirects?: number;
}

interface Endpoint {
  url: URL;
  report: EndpointReport;
  streak: number;
  probe(): Promise<Probe>;
}

function originHeadersFor(config: HealthConfig, url: URL): Record<string, string> {
  const headers: Record<string, string> = { ...config.headers };
  if (config.bearerToken) headers.authorization = `Bearer ${config.bearerToken}`;
  else if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  }
  return headers;
}

/**
 * What a failed answer from another origin should say: the credentials stayed behind (correctly: a new origin
 * must not get them), so a 401 there is no news about the configured URL; the final URL is what to probe.
 */
function withheldNote(
  withheld: readonly string[],
  config: HealthConfig,
  url: URL,
  finalUrl: URL,
  redirects: number,
): string {
  const what = withheld.map((name) =>
    name === 'authorization' && !config.headers.authorization
      ? config.bearerToken
        ? 'the bearer token'
        : "the URL's credentials"
      : `the ${name} header`,
  );
  const list = what.length > 1 ? `${what.slice(0, -1).join(', ')} and ${what.at(-1)}` : what[0];
  const hops = `${redirects} redirect${redirects === 1 ? '' : 's'}`;
  return (
    `; redirected to another origin (${finalUrl.origin}, not ${url.origin}; ${hops}), where ${list} ${what.length > 1 ? 'were' : 'was'} not sent: ` +
    `use the final URL ${displayUrl(finalUrl)} in urls`
  );
}

function withoutUserInfo(url: URL): URL {
  const bare = new URL(url);
  bare.username = '';
  bare.password = '';
  return bare;
}

type RequestOptions = (
  url: URL,
) => HttpRequestOptions & { originHeaders: Record<string, string>; followRedirects: boolean };

/** One configured URL's probe: the request (with the method and body), judged against the expectations. */
async function probeUrl(
  url: URL,
  config: HealthConfig,
  options: HttpRequestOptions,
  redactor: Redactor,
): Promise<Probe> {
  const outcome = await httpRequest(withoutUserInfo(url), { ...options, method: config.method, body: config.body });
  const where = {
    finalUrl: outcome.ok ? outcome.response.finalUrl : outcome.finalUrl,
    redirects: outcome.ok ? outcome.response.redirects : outcome.redirects,
  };
  if (!outcome.ok) return { latencyMs: outcome.latencyMs, pass: false, reason: outcome.failure.message, ...where };
  const { response } = outcome;
  const verdict = judgeResponse(response, config.expect, redactor);
  const note =
    !verdict.pass && response.withheldHeaders.length > 0
      ? withheldNote(response.withheldHeaders, config, url, response.finalUrl, response.redirects)
      : '';
  return {
    status: response.status,
    latencyMs: outcome.latencyMs,
    ...verdict,
    reason: verdict.reason + note,
    encoding: response.encoding,
    ...where,
  };
}

/** Every endpoint to probe: each URL, then the asset manifest when one is configured. */
function endpointsOf(config: HealthConfig, requestOptions: RequestOptions, redactor: Redactor): Endpoint[] {
  const endpoint = (url: URL, kind: EndpointReport['kind'], probe: () => Promise<Probe>): Endpoint => ({
    url,
    report: { url: displayUrl(url), kind, healthy: false, attempts: [] },
    streak: 0,
    probe,
  });
  const endpoints = config.urls.map((url) =>
    endpoint(url, 'endpoint', () => probeUrl(url, config, requestOptions(url), redactor)),
  );
  const manifestUrl = config.assetManifest;
  if (manifestUrl)
    endpoints.push(
      endpoint(manifestUrl, 'asset-manifest', async () => {
        const begun = performance.now();
        const verdict = await checkManifest(withoutUserInfo(manifestUrl), {
          ...requestOptions(manifestUrl),
          assetBase: config.assetBase,
          redactor,
        });
        return {
          status: verdict.status,
          latencyMs: performance.now() - begun,
          pass: verdict.pass,
          reason: verdict.reason,
        };
      }),
    );
  return endpoints;
}

/** Records one probe of an endpoint in its report and the log; the streak decides whether it is healthy. */
function recordProbe(
  e: Endpoint,
  probe: Probe,
  attempt: number,
  startedAt: string,
  config: HealthConfig,
  context: CoreContext,
) {
  const reason = context.redactor.redact(probe.reason);
  e.streak = probe.pass ? e.streak + 1 : 0;
  e.report.healthy = e.streak >= config.consecutiveSuccesses;
  const redirected =
    probe.finalUrl && probe.redirects
      ? { finalUrl: context.redactor.redact(displayUrl(probe.finalUrl)), redirects: probe.redirects }
      : {};
  e.report.attempts.push({
    attempt,
    startedAt,
    status: probe.status,
    latencyMs: Math.round(probe.latencyMs),
    verdict: probe.pass ? 'pass' : 'fail',
    reason,
    ...(probe.encoding ? { encoding: probe.encoding } : {}),
    ...redirected,
  });
  const ms = Math.round(probe.latencyMs);
  const encoded = probe.encoding ? ` (${probe.encoding})` : '';
  const answer =
    probe.status === undefined ? `${reason} (${ms} ms)` : `HTTP ${probe.status}${encoded} in ${ms} ms: ${reason}`;
  const streak =
    probe.pass && config.consecutiveSuccesses > 1 ? ` (${e.streak}/${config.consecutiveSuccesses} in a row)` : '';
  context.logger.info(`Attempt ${attempt}/${config.attempts} ${e.report.url} → ${answer}${streak}`);
}

/** The attempts: every endpoint not yet healthy is probed, concurrently, then a wait; returns the attempts used. */
async function retry(endpoints: readonly Endpoint[], config: HealthConfig, context: CoreContext): Promise<number> {
  const { logger, sleep } = context;
  logger.info(
    `Checking ${endpoints.length} endpoint(s): up to ${config.attempts} attempt${config.attempts === 1 ? '' : 's'}, ${config.backoff} interval ${formatDuration(config.intervalMs)}, ` +
      `timeout ${formatDuration(config.timeoutMs)}, worst case ${formatDuration(worstCaseMs(config))}`,
  );
  if (config.gracePeriodMs > 0) {
    logger.info(`Waiting ${formatDuration(config.gracePeriodMs)} grace period before the first attempt`);
    await sleep(config.gracePeriodMs);
  }
  for (let attempt = 1; ; attempt++) {
    const pending = endpoints.filter((e) => !e.report.healthy);
    await Promise.all(
      pending.map(async (e) => {
        const startedAt = new Date().toISOString();
        recordProbe(e, await e.probe(), attempt, startedAt, config, context);
      }),
    );
    if (endpoints.every((e) => e.report.healthy) || attempt === config.attempts) return attempt;
    const wait = waitAfter(attempt, config);
    logger.info(
      `${endpoints.filter((e) => !e.report.healthy).length} endpoint(s) not healthy yet; next attempt in ${formatDuration(wait)}`,
    );
    await sleep(wait);
  }
}

/**
 * Probes every endpoint each attempt, concurrently; an endpoint that has passed `consecutiveSuccesses`
 * times in a row is done and not probed again. Between attempts it waits `interval` (or a growing wait with
 * exponential backoff). When all are healthy and an SLO is configured, a load probe judges p95 and error rate.
 */
/** undici's Agent and the request options of every configured URL (its origin's headers). */
async function probing(config: HealthConfig) {
  // undici is loaded here, not at start-up: its HTTP parser (WebAssembly) costs ~45 ms that the step's first
  // log line, and an input error, should not wait for.
  const { Agent: UndiciAgent } = await import('undici');
  const dispatcher = new UndiciAgent({ connect: { timeout: config.timeoutMs }, keepAliveTimeout: 1_000 });
  const requestOptions: RequestOptions = (url) => ({
    dispatcher,
    timeoutMs: config.timeoutMs,
    followRedirects: config.followRedirects,
    originHeaders: originHeadersFor(config, url),
  });
  return { dispatcher, requestOptions };
}

/** The watch window over the configured URLs (not the asset manifest), after a healthy first pass. */
function watchEndpoints(
  endpoints: readonly Endpoint[],
  config: HealthConfig,
  dispatcher: Agent,
  context: CoreContext,
  baselineAt: number,
): Promise<WatchReport> {
  const watched = endpoints
    .filter((e) => e.report.kind === 'endpoint')
    .map((e) => ({ url: e.report.url, probe: e.probe }));
  return watchWindow(watched, config.watch!, {
    intervalMs: config.intervalMs,
    timeoutMs: config.timeoutMs,
    baselineAt,
    dispatcher,
    context,
  });
}

/**
 * Only the watch window (release-services, after every service passed its own check): the endpoints are watched
 * from now on; a Prometheus baseline is taken at `baselineAt` (unix ms; default now).
 */
export async function watchHealth(
  config: HealthConfig & { watch: NonNullable<HealthConfig['watch']> },
  context: Partial<CoreContext> = {},
  baselineAt?: number,
): Promise<WatchReport> {
  const full = coreContext(context);
  const { dispatcher, requestOptions } = await probing(config);
  try {
    const endpoints = endpointsOf({ ...config, assetManifest: undefined }, requestOptions, full.redactor);
    return await watchEndpoints(endpoints, config, dispatcher, full, baselineAt ?? full.now());
  } finally {
    await dispatcher.close();
  }
}

/**
 * Probes every endpoint each attempt, concurrently; an endpoint that has passed `consecutiveSuccesses`
 * times in a row is done and not probed again. Between attempts it waits `interval` (or a growing wait with
 * exponential backoff). When all are healthy and an SLO is configured, a load probe judges p95 and error rate;
 * then, when configured, the watch window.
 */
export async function runHealthCheck(config: HealthConfig, context: Partial<CoreContext> = {}): Promise<HealthOutcome> {
  const full = coreContext(context);
  const { logger, redactor } = full;
  const started = performance.now();
  const baselineAt = full.now(); // right after the switch: the Prometheus baseline's time
  const { dispatcher, requestOptions } = await probing(config);
  const endpoints = endpointsOf(config, requestOptions, redactor);
  try {
    const attemptsUsed = await retry(endpoints, config, full);
    const endpointsHealthy = endpoints.every((e) => e.report.healthy);
    const results: CheckResult[] = endpoints.map(({ report }) => endpointResult(report, config.attempts));
    let slo: SloReport | undefined;
    if (config.slo && endpointsHealthy) {
      slo = await probeSlo(config, requestOptions(config.slo.url).originHeaders, dispatcher, logger);
      results.push(sloResult(slo));
    } else if (config.slo) results.push(skipped(sloName(config.slo)));
    let watch: WatchReport | undefined;
    if (config.watch && endpointsHealthy && (slo?.pass ?? true)) {
      watch = await watchEndpoints(endpoints, config, dispatcher, full, baselineAt);
      results.push(...watch.results);
    } else if (config.watch) results.push(skipped('watch window'));
    return {
      healthy: endpointsHealthy && (slo?.pass ?? true) && (watch ? watch.failure === null : true),
      attemptsUsed,
      durationMs: Math.round(performance.now() - started),
      worstCaseMs: worstCaseMs(config),
      endpoints: endpoints.map((e) => e.report),
      slo,
      watch,
      results: results.map((result) => ({ ...result, detail: redactor.redact(result.detail) })),
    };
  } finally {
    await dispatcher.close();
  }
}

const skipped = (name: string): CheckResult => ({
  name,
  status: 'skip',
  detail: 'skipped: endpoints are not healthy',
  durationMs: 0,
});

function endpointResult(report: EndpointReport, maxAttempts: number): CheckResult {
  const last = report.attempts.at(-1);
  const durationMs = report.attempts.reduce((sum, a) => sum + a.latencyMs, 0);
  const tries = `${report.attempts.length} attempt${report.attempts.length === 1 ? '' : 's'}`;
  const name = report.kind === 'asset-manifest' ? `${report.url} (asset manifest)` : report.url;
  if (report.healthy) {
    const status = last?.status === undefined ? '' : `HTTP ${last.status}, `;
    return { name, status: 'pass', detail: `${status}${last?.reason ?? 'ok'} after ${tries}`, durationMs };
  }
  const lastAnswer = last
    ? last.status === undefined
      ? last.reason
      : `HTTP ${last.status}: ${last.reason}`
    : 'not probed';
  return { name, status: 'fail', detail: `unhealthy after ${tries} of ${maxAttempts}: ${lastAnswer}`, durationMs };
}

function sloName(slo: NonNullable<HealthConfig['slo']>): string {
  return `SLO ${displayUrl(slo.url)} (${slo.requests} requests, ${slo.concurrency} concurrent)`;
}

async function probeSlo(
  config: HealthConfig,
  originHeaders: Record<string, string>,
  dispatcher: Agent,
  logger: Logger,
): Promise<SloReport> {
  const slo = config.slo!;
  logger.info(`SLO probe: ${slo.requests} requests, ${slo.concurrency} concurrent, to ${displayUrl(slo.url)}`);
  const begun = performance.now();
  const load = await runLoad({
    url: withoutUserInfo(slo.url),
    requests: slo.requests,
    concurrency: slo.concurrency,
    timeoutMs: config.timeoutMs,
    expectStatus: config.expect.status,
    originHeaders,
    followRedirects: config.followRedirects,
    dispatcher,
  });
  const pass =
    (slo.p95Ms === undefined || load.p95Ms <= slo.p95Ms) &&
    (slo.maxErrorRate === undefined || load.errorRate <= slo.maxErrorRate);
  const report: SloReport = {
    ...load,
    url: displayUrl(slo.url),
    concurrency: slo.concurrency,
    p95LimitMs: slo.p95Ms,
    maxErrorRate: slo.maxErrorRate,
    pass,
    durationMs: Math.round(performance.now() - begun),
  };
  logger.info(`SLO probe → ${sloDetail(report)}`);
  return report;
}

const percent = (rate: number) => `${Number((rate * 100).toFixed(2))}%`;

function sloDetail(slo: SloReport): string {
  const p95 = `p95 ${Math.round(slo.p95Ms)} ms${slo.p95LimitMs === undefined ? '' : ` (limit ${formatDuration(slo.p95LimitMs)})`}`;
  const errors = `errors ${percent(slo.errorRate)}${slo.maxErrorRate === undefined ? '' : ` (limit ${percent(slo.maxErrorRate)})`}`;
  const reasons = slo.errorReasons.length > 0 ? `: ${slo.errorReasons.slice(0, 3).join(', ')}` : '';
  return `${p95}, ${errors}${reasons}`;
}

function sloResult(slo: SloReport): CheckResult {
  return {
    name: `SLO ${slo.url} (${slo.requests} requests, ${slo.concurrency} concurrent)`,
    status: slo.pass ? 'pass' : 'fail',
    detail: sloDetail(slo),
    durationMs: slo.durationMs,
  };
}
