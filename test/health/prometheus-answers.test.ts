import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent } from 'undici';
import { queryPrometheus } from '#core/health/prometheus.js';
import { compare, parseQueryLine, thresholdValue, type PrometheusQuery } from '#core/health/prometheus-queries.js';
import { isWorkflowCommand } from '#core/text.js';
import { Redactor } from '#core/redact.js';
import { startServer, type TestServer } from '../support/http-server.js';
import { cleanup, runBundle } from '../support/run-bundle.js';

const parsed = (line: string) => (parseQueryLine(line) as { value: PrometheusQuery }).value;
const problem = (line: string) => (parseQueryLine(line) as { problem: string }).problem;

describe('queries lines: name: <PromQL> <op> <threshold>', () => {
  it("splits at the last comparison outside PromQL's quotes and brackets", () => {
    expect(parsed('5xx: sum(rate(http_requests_total{code=~"5.."}[5m])) < 1.5 * <baseline>')).toMatchObject({
      name: '5xx',
      expr: 'sum(rate(http_requests_total{code=~"5.."}[5m]))',
      op: '<',
      thresholdText: '1.5 * <baseline>',
      usesBaseline: true,
    });
    expect(parsed('ok: sum(up{job!="x",a="<=>"}) != 0')).toMatchObject({ expr: 'sum(up{job!="x",a="<=>"})', op: '!=' });
    // PromQL's own comparison stays in the query: the last one is the line's.
    expect(parsed('p95: histogram_quantile(0.95, sum by (le) (rate(b[5m]))) > 0 <= 2')).toMatchObject({
      expr: 'histogram_quantile(0.95, sum by (le) (rate(b[5m]))) > 0',
      op: '<=',
      thresholdText: '2',
      usesBaseline: false,
    });
    for (const op of ['<', '<=', '>', '>=', '==', '!='])
      expect(parsed(`q: up ${op} 1`)).toMatchObject({ expr: 'up', op, thresholdText: '1' });
  });

  it('evaluates thresholds as arithmetic over <baseline>, and NaN never passes', () => {
    const threshold = (text: string, baseline?: number) =>
      thresholdValue(parsed(`q: up < ${text}`).threshold, baseline);
    expect(threshold('1.5 * <baseline>', 4)).toBe(6);
    expect(threshold('<baseline> * 1.5 + 0.1', 0)).toBeCloseTo(0.1);
    expect(threshold('(<baseline> + 2) / 2', 4)).toBe(3);
    expect(threshold('-1e3')).toBe(-1000);
    expect(compare(Number.NaN, '<', 1)).toBe(false);
    expect(compare(Number.NaN, '!=', 1)).toBe(false);
    expect(compare(0, '<', 0)).toBe(false);
  });

  it('tells what is wrong with a line, with an example', () => {
    const example = 'e.g. 5xx: sum(rate(http_requests_total{code=~"5.."}[5m])) <= 1.5 * <baseline>';
    expect(problem('sum(up) < 1')).toBe(
      `line "sum(up) < 1" does not start with a name and ": " (letters, digits, ".", "_", "-"); write name: <PromQL> <op> <threshold>, ${example}`,
    );
    expect(problem('up: up =< 1')).toContain('has an unknown comparison "=<"; use one of < <= > >= == !=');
    expect(problem('up: up <> 1')).toContain('has an unknown comparison "<>"');
    expect(problem('up: up ~ 1')).toContain('has no comparison (one of < <= > >= == !=) before the threshold');
    expect(problem('up: < 1')).toContain('has no PromQL query before "<"');
    expect(problem('up: up < 1.5 * baseline')).toContain('threshold "1.5 * baseline" that is not a number');
    expect(problem('up: up < (1')).toContain('threshold "(1"');
  });
});

/** A Prometheus stand-in whose answers each test scripts: the server is the one that may be hostile. */
let server: TestServer;
let answer: { status: number; body: string } = { status: 200, body: '' };
const dispatcher = new Agent();
beforeAll(async () => {
  server = await startServer((_req, res) => {
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body);
  });
});
afterAll(async () => {
  await server.close();
  await dispatcher.close();
});

const TOKEN = 'prom-secret-0c4e7a9b2d5f8e1a';
async function ask(status: number, body: unknown, url = server.url) {
  answer = { status, body: typeof body === 'string' ? body : JSON.stringify(body) };
  return queryPrometheus({ url: new URL(url), token: TOKEN }, 'sum(up)', {
    time: 1_700_000_000.5,
    timeoutMs: 2_000,
    dispatcher,
    redactor: new Redactor([TOKEN]),
  });
}
const vector = (...values: string[]) => ({
  status: 'success',
  data: { resultType: 'vector', result: values.map((value, i) => ({ metric: { i: String(i) }, value: [1, value] })) },
});

describe('Prometheus answers, parsed by schema', () => {
  it('asks /api/v1/query (POST, time=) with the bearer token, under a path prefix too', async () => {
    expect(await ask(200, vector('0.25'), `${server.url}/prom/`)).toEqual({ ok: true, value: 0.25, series: 1 });
    const request = server.requests.at(-1)!;
    expect(request).toMatchObject({ method: 'POST', path: '/prom/api/v1/query' });
    expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('reads scalars and special values; an empty vector is 0 with no series', async () => {
    expect(await ask(200, { status: 'success', data: { resultType: 'scalar', result: [1, '3'] } })).toEqual({
      ok: true,
      value: 3,
      series: 1,
    });
    expect(await ask(200, vector('+Inf'))).toMatchObject({ value: Number.POSITIVE_INFINITY });
    expect(await ask(200, vector('NaN'))).toMatchObject({ ok: true, value: Number.NaN });
    expect(await ask(200, vector())).toEqual({ ok: true, value: 0, series: 0 });
  });

  it('refuses what is not one number, saying how to fix the query', async () => {
    expect(await ask(200, vector('1', '2'))).toEqual({
      ok: false,
      error: 'the query returns 2 series, not one number; aggregate it, e.g. sum(…) or max(…)',
    });
    expect(await ask(200, { status: 'success', data: { resultType: 'matrix', result: [] } })).toEqual({
      ok: false,
      error: 'the query returns a matrix, not one number; use an instant vector or scalar',
    });
    expect(await ask(200, vector('twelve'))).toMatchObject({ ok: true, value: Number.NaN });
    expect(await ask(503, vector('1'))).toEqual({ ok: false, error: 'Prometheus answered HTTP 503' });
  });

  it('keeps a hostile body one short masked line: no workflow command, no token, no line break', async () => {
    const hostile = `\n::set-output name=healthy::true\n::add-mask::x\n<img src=x onerror=alert(1)> Bearer ${TOKEN} ${'A'.repeat(500)}`;
    const error = await ask(400, { status: 'error', errorType: 'bad_data', error: hostile });
    expect(error.ok).toBe(false);
    const text = (error as { error: string }).error;
    expect(text).not.toMatch(/[\r\n]/);
    expect(text).not.toContain(TOKEN);
    expect(text.length).toBeLessThanOrEqual(200);
    expect(text).toMatch(/^bad_data: ::set-output name=healthy::true ::add-mask::x <img/);
    const notJson = await ask(502, `<html>\n::error::pwned ${TOKEN}</html>`);
    expect(notJson).toEqual({
      ok: false,
      error: 'Prometheus answered HTTP 502 that is not JSON: "<html> ::error::pwned ***</html>"',
    });
    expect(await ask(200, { status: 'success', data: { resultType: 'vector', result: 'x' } })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^Prometheus answered HTTP 200 in an unknown shape: /),
    });
  });

  it('through dist/health-retry: the hostile text is neither a command in the log nor markup in the summary', async () => {
    const app = await startServer((_req, res) => res.end('ok'));
    answer = {
      status: 422,
      body: JSON.stringify({
        status: 'error',
        errorType: 'execution',
        error: `x\n::set-output name=healthy::true\n<script>alert(1)</script> ${TOKEN}`,
      }),
    };
    const run = await runBundle('health-retry', {
      urls: `${app.url}/health`,
      interval: '100ms',
      attempts: '2',
      watch: '5s',
      'unhealthy-for': '250ms',
      'prometheus-url': server.url,
      'prometheus-token': TOKEN,
      queries: 'q: sum(up) >= 1',
    });
    await app.close();
    try {
      expect(run.exitCode).toBe(1);
      const commands = run.stdout.split('\n').filter(isWorkflowCommand);
      expect(commands.filter((line) => !/^::(add-mask|group|endgroup|error)/.test(line))).toEqual([]);
      expect(run.outputs.healthy).toBe('false');
      expect(run.summary).not.toContain('<script>');
      expect(run.summary).toContain('&lt;script&gt;');
      expect(run.log.replace(`::add-mask::${TOKEN}`, '')).not.toContain(TOKEN);
      expect(run.log).toMatch(
        /::error::Unhealthy: Prometheus query "q" could not be evaluated for \S+ \(unhealthy-for 250ms\): execution: x ::set-output/,
      );
    } finally {
      cleanup(run);
    }
  });
});
