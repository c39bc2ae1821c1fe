import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { runHealthCheck, type HealthConfig, type HealthOutcome } from '#core/health/index.js';
import { secretHeaderValues } from '#core/http/index.js';
import { urlCredentials } from '#core/redact.js';
import { formatDuration } from '#core/units/index.js';
import { healthRetryInputs, toConfig } from './inputs.js';

function reportDocument(outcome: HealthOutcome, config: HealthConfig) {
  const { attempts, intervalMs, backoff, timeoutMs, gracePeriodMs, consecutiveSuccesses, expect, bearerToken } = config;
  const settings = { attempts, intervalMs, backoff, timeoutMs, gracePeriodMs, consecutiveSuccesses };
  const expectations = {
    expectStatus: expect.status.text,
    expectJson: expect.json.map((a) => a.text),
    expectBody: expect.body?.source,
  };
  const { healthy, attemptsUsed, durationMs, worstCaseMs, endpoints, slo, results } = outcome;
  return {
    action: 'health-retry',
    healthy,
    attemptsUsed,
    durationMs,
    worstCaseMs,
    settings: { ...settings, ...expectations, bearerToken: bearerToken ? 'set (masked)' : 'not set' },
    endpoints,
    slo,
    results,
  };
}

export const action = defineAction({
  name: 'health-retry',
  inputs: healthRetryInputs,
  // A URL's username and password are masked from the raw inputs, before a bad URL's input error can quote them.
  secrets: {
    'bearer-token': 'value',
    headers: secretHeaderValues,
    urls: urlCredentials,
    'asset-manifest': urlCredentials,
    'slo-url': urlCredentials,
  },
  outputs: z.object({
    healthy: z.enum(['true', 'false']),
    attempts: outputValue(),
    'duration-ms': outputValue(),
    report: outputValue(),
    'p95-ms': outputValue().optional(),
    'error-rate': outputValue().optional(),
  }),
  async main(inputs, context) {
    // …and as the URL parser re-encodes them (`p@ss` → `p%40ss`), in case one is printed that way.
    for (const url of [...inputs.urls, inputs['asset-manifest'], inputs['slo-url']])
      if (url) context.mask(url.username, url.password);
    const config = toConfig(inputs);
    const outcome = await runHealthCheck(config, context);
    const report = inputs['report-path'] ?? context.defaultReportPath;
    const failed = outcome.results.filter((result) => result.status === 'fail').length;
    const unhealthy = `Unhealthy: ${failed} of ${outcome.results.length} check(s) failed`;
    return {
      title: 'Health checks',
      results: outcome.results,
      facts: [
        ['Attempts used', `${outcome.attemptsUsed} of ${config.attempts}`],
        ['Duration', formatDuration(outcome.durationMs)],
      ],
      report: { path: report, document: reportDocument(outcome, config) },
      outputs: {
        healthy: String(outcome.healthy),
        attempts: String(outcome.attemptsUsed),
        'duration-ms': String(outcome.durationMs),
        report,
        'p95-ms': outcome.slo ? String(Math.round(outcome.slo.p95Ms)) : undefined,
        'error-rate': outcome.slo ? String(Number(outcome.slo.errorRate.toFixed(4))) : undefined,
      },
      verdict: outcome.healthy
        ? `Healthy: ${outcome.results.length} check(s) passed in ${formatDuration(outcome.durationMs)}`
        : `${unhealthy} (fail-on-unhealthy is false, so the step passes)`,
      failure: outcome.healthy || !inputs['fail-on-unhealthy'] ? undefined : unhealthy,
    };
  },
});

export const run = action.run;
