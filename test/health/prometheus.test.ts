import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { HealthConfig } from '#core/health/config.js';
import { parseQueryLine, type PrometheusQuery } from '#core/health/prometheus-queries.js';
import { runHealthCheck } from '#core/health/run.js';
import { isWorkflowCommand } from '#core/text.js';
import { MemoryLogger } from '#core/logger.js';
import { Redactor } from '#core/redact.js';
import { healthConfig } from '../support/health.js';
import { json, startServer, type TestServer } from '../support/http-server.js';
import { startExporter, startPrometheus, type Exporter, type TestPrometheus } from '../support/prometheus.js';
import { cleanup, runBundle } from '../support/run-bundle.js';

/**
 * A real Prometheus on loopback (started once for this file) scrapes a tiny exporter every second; the test drives
 * its counters. The watch window runs in real time here (interval 400 ms, a few seconds), as Prometheus does.
 */
let prometheus: TestPrometheus;
let exporter: Exporter;
let app: TestServer;
/** The app's /health calls this on every request (count from 1); a test sets it to raise a counter mid-window. */
let onHealth: (count: number) => void = () => {};

beforeAll(async () => {
  exporter = await startExporter();
  for (const run of ['quiet', 'breach', 'bundle']) exporter.add('app_errors_total', `run="${run}"`, 7);
  exporter.add('http_requests_total', 'code="200"', 100);
  app = await startServer((_req, res, count) => {
    onHealth(count);
    json(res, 200, { status: 'ok' });
  });
  prometheus = await startPrometheus([exporter.target]);
  await prometheus.until('count(app_errors_total)', (value) => value === 3);
}, 30_000);

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.close();
  await app?.close();
});

const queries = (...lines: string[]): PrometheusQuery[] =>
  lines.map((line) => (parseQueryLine(line) as { value: PrometheusQuery }).value);

function watching(lines: string[], watch: Partial<NonNullable<HealthConfig['watch']>> = {}): HealthConfig {
  return healthConfig([`${app.url}/health`], {
    attempts: 3,
    intervalMs: 400,
    watch: {
      windowMs: 3_000,
      unhealthyForMs: 1_200,
      prometheus: { source: { url: new URL(prometheus.url) }, queries: queries(...lines) },
      ...watch,
    },
  });
}

async function check(config: HealthConfig) {
  const logger = new MemoryLogger();
  const outcome = await runHealthCheck(config, { logger, redactor: new Redactor() });
  return { outcome, log: logger.lines.map((line) => line.message) };
}

describe('watch window with a real Prometheus', () => {
  it('passes when no query breaks its threshold, with the baselines and values in the report', async () => {
    onHealth = () => {};
    const { outcome } = await check(
      watching([
        'errors: sum(app_errors_total{run="quiet"}) < <baseline> + 5',
        'up: min(up{job="app"}) == 1',
        '5xx: sum(rate(http_requests_total{code=~"5.."}[5s])) <= 1.5 * <baseline>',
      ]),
    );
    expect(outcome.watch!.failure).toBeNull();
    expect(outcome.healthy).toBe(true);
    const [errors, up, fivexx] = outcome.watch!.queries;
    expect(errors).toMatchObject({ baseline: 7, min: 7, max: 7, last: 7, breach: null, errors: 0 });
    expect(errors!.evaluations).toBeGreaterThanOrEqual(5);
    expect(up).toMatchObject({ baseline: null, last: 1 });
    // No 5xx series at all: the vector is empty, counted as 0, and said so.
    expect(fivexx).toMatchObject({ baseline: 0, last: 0, breach: null });
    expect(fivexx!.emptyResults).toBe(fivexx!.evaluations);
    expect(outcome.results.find((r) => r.name.startsWith('prometheus errors'))).toMatchObject({
      status: 'pass',
      detail: expect.stringMatching(/^\d+ evaluation\(s\): min 7, max 7, last 7, baseline 7$/),
    });
  });

  it('fails as soon as a counter the service raises mid-window breaks the threshold, naming query, value, baseline and threshold', async () => {
    const third = app.requests.length + 3; // the server counts every /health request of this file
    onHealth = (count) => count === third && exporter.add('app_errors_total', 'run="breach"', 10);
    const { outcome, log } = await check(
      watching(['errors: sum(app_errors_total{run="breach"}) < <baseline> + 5'], { windowMs: 10_000 }),
    );
    expect(outcome.healthy).toBe(false);
    const failure = outcome.watch!.failure!;
    expect(failure).toMatch(
      /^Prometheus query "errors" breached at \+[\d.]+m?s: sum\(app_errors_total\{run="breach"\}\) = 17, not < 12 \(threshold <baseline> \+ 5, baseline 7\)$/,
    );
    expect(outcome.watch!.elapsedMs).toBeLessThan(10_000); // stopped at the breach, not at the window's end
    expect(outcome.watch!.queries[0]!.breach).toMatchObject({ value: 17, threshold: 12 });
    expect(log).toContainEqual(`Watch window failed: ${failure}`);
  });

  it('names the query when Prometheus refuses it: at once for a baseline, after unhealthy-for in the window', async () => {
    onHealth = () => {};
    const baseline = await check(watching(['broken: rate(up) < 2 * <baseline>']));
    expect(baseline.outcome.watch!.failure).toMatch(
      /^Prometheus query "broken" failed for its baseline at \S+Z: bad_data: .*range vector.*$/,
    );
    const window = await check(watching(['broken: rate(up) < 1']));
    expect(window.outcome.healthy).toBe(false);
    expect(window.outcome.watch!.failure).toMatch(
      /^Prometheus query "broken" could not be evaluated for [\d.]+s \(unhealthy-for 1\.2s\): bad_data: .*range vector/,
    );
  });
});

describe('dist/health-retry with watch and a real Prometheus', () => {
  const TOKEN = 'prom-token-5b9e1c7d3a2f4e6b8c0d';

  it('fails the step on a breach, with the timeline in the summary, and never shows the token', async () => {
    const fourth = app.requests.length + 4;
    onHealth = (count) => count === fourth && exporter.add('app_errors_total', 'run="bundle"', 50);
    const run = await runBundle('health-retry', {
      urls: `${app.url}/health`,
      interval: '300ms',
      attempts: '4',
      watch: '15s',
      'prometheus-url': prometheus.url,
      'prometheus-token': TOKEN,
      queries: 'errors: sum(app_errors_total{run="bundle"}) <= 1.5 * <baseline>\nup: min(up) >= 1',
    });
    try {
      expect(run.exitCode).toBe(1);
      expect(run.outputs.healthy).toBe('false');
      expect(run.log).toMatch(
        /::error::Unhealthy: Prometheus query "errors" breached at \+\S+: sum\(app_errors_total\{run="bundle"\}\) = 57, not <= 10\.5 \(threshold 1\.5 \* <baseline>, baseline 7\)/,
      );
      expect(run.summary).toMatch(
        /\| watch http:&#8203;\/\/127\.0\.0\.1:\d+\/health \| ✅ pass \| ✅+ \d+\/\d+ healthy/,
      );
      expect(run.summary).toContain('| prometheus errors: &lt;= 1.5 \\* &lt;baseline&gt; | ❌ fail |');
      const report = JSON.parse(readFileSync(run.outputs.report!, 'utf8'));
      expect(report.details.watch).toMatchObject({
        completed: false,
        queries: [
          { name: 'errors', baseline: 7, breach: { value: 57 } },
          { name: 'up', last: 1 },
        ],
      });
      expect(report.details.watch.results).toBeUndefined();
      // The runner consumes ::add-mask:: lines (they are how the token gets masked); everything else must be clean.
      expect(run.stdout.indexOf(`::add-mask::${TOKEN}`)).toBe(0);
      const log = run.log.replace(`::add-mask::${TOKEN}`, '');
      for (const text of [log, run.summary, JSON.stringify(run.outputs), readFileSync(run.outputs.report!, 'utf8')])
        expect(text).not.toContain(TOKEN);
    } finally {
      cleanup(run);
    }
  });

  it('refuses a malformed queries line before probing anything, naming the input with an example', async () => {
    const before = app.requests.length;
    const run = await runBundle('health-retry', {
      urls: `${app.url}/health`,
      watch: '1m',
      'prometheus-url': prometheus.url,
      queries: 'errors: sum(app_errors_total) ~ 5',
    });
    try {
      expect(run.exitCode).toBe(1);
      expect(run.log).toContain(
        '::error::Input "queries": line "errors: sum(app_errors_total) ~ 5" has no comparison (one of < <= > >= == !=) before the threshold; write name: <PromQL> <op> <threshold>, e.g. 5xx: sum(rate(http_requests_total{code=~"5.."}[5m])) <= 1.5 * <baseline>',
      );
      expect(app.requests.length).toBe(before);
      expect(
        run.log
          .split('\n')
          .filter(isWorkflowCommand)
          .every((line) => !line.includes('set-output')),
      ).toBe(true);
    } finally {
      cleanup(run);
    }
  });
});
