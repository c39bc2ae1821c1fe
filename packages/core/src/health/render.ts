import type { RenderedOutcome } from '../report/rendered.js';
import { formatDuration } from '../units/duration.js';
import type { HealthConfig } from './config.js';
import type { HealthOutcome } from './run.js';

/** The report's details: the outcome, and the settings it ran with (the bearer token only said to be set). */
function healthDetails(outcome: HealthOutcome, config: HealthConfig) {
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

/** A health check as the step shows it; `failOnUnhealthy` false makes an unhealthy outcome a passing step's verdict. */
export function renderHealth(outcome: HealthOutcome, config: HealthConfig, failOnUnhealthy: boolean): RenderedOutcome {
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
    report: { details: healthDetails(outcome, config) },
    verdict: outcome.healthy
      ? `Healthy: ${outcome.results.length} check(s) passed in ${formatDuration(outcome.durationMs)}`
      : `${unhealthy} (fail-on-unhealthy is false, so the step passes)`,
    failure: outcome.healthy || !failOnUnhealthy ? undefined : unhealthy,
  };
}
