import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { gracefulScope } from '#core/cancel.js';
import { renderHealth, runHealthCheck, type HealthConfig } from '#core/health/index.js';
import { secretHeaderValues } from '#core/http/index.js';
import { urlCredentials } from '#core/redact.js';
import { watchSecrets } from '#action-kit/watch.js';
import { healthRetryInputs, toConfig } from './inputs.js';

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
    'asset-base-url': urlCredentials,
    ...watchSecrets,
  },
  argumentInputs: { body: 'body', bodyFile: 'body-file', contentType: 'content-type' },
  outputs: () =>
    z.object({
      healthy: z.enum(['true', 'false']),
      attempts: outputValue(),
      'duration-ms': outputValue(),
      'p95-ms': outputValue().optional(),
      'error-rate': outputValue().optional(),
    }),
  async main(inputs, context) {
    // …and as the URL parser re-encodes them (`p@ss` → `p%40ss`), in case one is printed that way.
    const urls = [inputs['asset-manifest'], inputs['asset-base-url'], inputs['slo-url'], inputs['prometheus-url']];
    for (const url of [...inputs.urls, ...urls]) if (url) context.mask(url.username, url.password);
    const config = await toConfig(inputs, context.workspace);
    const outcome = await checkHealth(config, context);
    return {
      ...renderHealth(outcome, config, inputs['fail-on-unhealthy']),
      outputs: {
        healthy: String(outcome.healthy),
        attempts: String(outcome.attemptsUsed),
        'duration-ms': String(outcome.durationMs),
        'p95-ms': outcome.slo ? String(Math.round(outcome.slo.p95Ms)) : undefined,
        'error-rate': outcome.slo ? String(Number(outcome.slo.errorRate.toFixed(4))) : undefined,
      },
    };
  },
});

export const run = action.run;
