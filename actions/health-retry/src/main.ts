import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { gracefulScope } from '#core/cancel.js';
import { runHealthCheck, type HealthConfig, type HealthOutcome } from '#core/health/index.js';
import { secretHeaderValues } from '#core/http/index.js';
import { urlCredentials } from '#core/redact.js';
import { formatDuration } from '#core/units/index.js';
import { watchSecrets } from '#action-kit/watch.js';
import { healthRetryInputs, toConfig } from './inputs.js';

function reportDetails(outcome: HealthOutcome, config: HealthConfig) {
  const { attempts, intervalMs, backoff, timeoutMs, gracePeriodMs, consecutiveSuccesses, expect, bearerToken } = config;
  const request = {
    method: config.method ?? 'GET',
    bodyBytes: config.body?.data.length ?? 0,
    contentType: config.body?.contentType,
  };
  const settings = { attempts, intervalMs, backoff, timeoutMs, gracePeriodMs, consecutiveSuccesses, ...request };
  const expectations = {
    expectStatus: expect.status.text,
    expectJson: expect.json.map((a) => a.text),
    expectBody: expect.body?.source,
  };
  const { healthy, attemptsUsed, durationMs, worstCaseMs, endpoints, slo } = outcome;
  const watch = outcome.watch && { ...outcome.watch, results: undefined };
  return {
    healthy,
    attemptsUsed,
    durationMs,
    worstCaseMs,
    settings: { ...settings, ...expectations, bearerToken: bearerToken ? 'set (masked)' : 'not set' },
    endpoints,
    slo,
    watch,
  };
}

/** A watch window runs in a graceful scope: a cancelled job ends the window, and the step still reports it. */
async function checkHealth(config: HealthConfig, context: Parameters<typeof runHealthCheck>[1]) {
  const scope = config.watch ? gracefulScope() : undefined;
  try {
    return await runHealthCheck(
      scope ? { ...config, watch: { ...config.watch!, signal: scope.signal } } : config,
      context,
    );
  } finally {
    scope?.close();
  }
}

export const action = defineAction({
  name: 'health-retry',
  stage: 'health',
  inputs: healthRetryInputs,
  // A URL's username and password are masked from the raw inputs, before a bad URL's input error can quote them.
  secrets: {
    'bearer-token': 'value',
    headers: secretHeaderValues,
    urls: urlCredentials,
    'asset-manifest': urlCredentials,
    'slo-url': urlCredentials,
    ...watchSecrets,
  },
  argumentInputs: { body: 'body', bodyFile: 'body-file', contentType: 'content-type' },
  outputs: z.object({
    healthy: z.enum(['true', 'false']),
    attempts: outputValue(),
    'duration-ms': outputValue(),
    'p95-ms': outputValue().optional(),
    'error-rate': outputValue().optional(),
  }),
  async main(inputs, context) {
    // …and as the URL parser re-encodes them (`p@ss` → `p%40ss`), in case one is printed that way.
    for (const url of [...inputs.urls, inputs['asset-manifest'], inputs['slo-url'], inputs['prometheus-url']])
      if (url) context.mask(url.username, url.password);
    const config = await toConfig(inputs, context.workspace);
    const outcome = await checkHealth(config, context);
    const failed = outcome.results.filter((result) => result.status === 'fail').length;
    const unhealthy = outcome.watch?.failure
      ? `Unhealthy: ${outcome.watch.failure}`
      : `Unhealthy: ${failed} of ${outcome.results.length} check(s) failed`;
    return {
      title: 'Health checks',
      results: outcome.results,
      facts: [
        ['Attempts used', `${outcome.attemptsUsed} of ${config.attempts}`],
        ['Duration', formatDuration(outcome.durationMs)],
      ],
      report: { details: reportDetails(outcome, config) },
      outputs: {
        healthy: String(outcome.healthy),
        attempts: String(outcome.attemptsUsed),
        'duration-ms': String(outcome.durationMs),
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
