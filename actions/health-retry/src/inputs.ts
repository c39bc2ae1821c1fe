import { z } from 'zod';
import {
  boolean,
  checkedBy,
  credential,
  duration,
  InputError,
  integer,
  lines,
  oneOf,
  optional,
  optionalDuration,
  optionalOf,
  optionalRate,
  positiveDuration,
  statusSpec,
  withDefault,
} from '#action-kit/inputs.js';
import { watchConfig, watchInputs } from '#action-kit/watch.js';
import type { HealthConfig } from '#core/health/index.js';
import { bodyPattern, headerLine, httpUrl, parseJsonAssertion, requestBody } from '#core/http/index.js';

/** The inputs of health-retry, keyed by their action.yml names, with the same defaults. */
export const healthRetryInputs = {
  urls: lines(httpUrl, { min: 1 }),
  'expect-status': withDefault('200', statusSpec()),
  'expect-json': lines(parseJsonAssertion),
  'expect-body': optionalOf(checkedBy(bodyPattern)),
  'bearer-token': credential('${{ secrets.HEALTH_TOKEN }}'),
  headers: lines(headerLine),
  attempts: withDefault('6', integer({ min: 1, max: 1000 })),
  interval: withDefault('5s', duration()),
  'max-interval': withDefault('1m', duration()),
  timeout: withDefault('10s', positiveDuration()),
  'grace-period': withDefault('0s', duration()),
  backoff: withDefault('fixed', oneOf(['fixed', 'exponential'])),
  'consecutive-successes': withDefault('1', integer({ min: 1, max: 1000 })),
  'follow-redirects': withDefault('true', boolean()),
  'asset-manifest': optionalOf(checkedBy(httpUrl)),
  'asset-base-url': optionalOf(checkedBy(httpUrl)),
  'slo-requests': withDefault('0', integer({ min: 0, max: 100_000 })),
  'slo-concurrency': withDefault('10', integer({ min: 1, max: 1000 })),
  'slo-url': optionalOf(checkedBy(httpUrl)),
  'slo-p95': optionalDuration(),
  'slo-max-error-rate': optionalRate(),
  ...watchInputs,
  'fail-on-unhealthy': withDefault('true', boolean()),
  method: withDefault('GET', oneOf(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'])),
  body: optional(),
  'body-file': optional(),
  'content-type': optional(),
  'report-path': optional(),
};

export type HealthRetryInputs = z.output<z.ZodObject<typeof healthRetryInputs>>;

export async function toConfig(inputs: HealthRetryInputs, workspace: string): Promise<HealthConfig> {
  const slo = inputs['slo-requests'] > 0;
  if (inputs['consecutive-successes'] > inputs.attempts)
    throw new InputError(
      'consecutive-successes',
      `is ${inputs['consecutive-successes']}, more passes in a row than the ${inputs.attempts} attempts allow; raise attempts or lower it, e.g. attempts: 6 with consecutive-successes: 3`,
    );
  return {
    urls: inputs.urls,
    expect: { status: inputs['expect-status'], json: inputs['expect-json'], body: inputs['expect-body'] },
    bearerToken: inputs['bearer-token'],
    headers: Object.fromEntries(inputs.headers),
    method: inputs.method,
    body: await requestBody(
      { method: inputs.method, body: inputs.body, bodyFile: inputs['body-file'], contentType: inputs['content-type'] },
      workspace,
    ),
    attempts: inputs.attempts,
    intervalMs: inputs.interval,
    maxIntervalMs: inputs['max-interval'],
    timeoutMs: inputs.timeout,
    gracePeriodMs: inputs['grace-period'],
    backoff: inputs.backoff,
    consecutiveSuccesses: inputs['consecutive-successes'],
    followRedirects: inputs['follow-redirects'],
    assetManifest: inputs['asset-manifest'],
    assetBase: inputs['asset-base-url'],
    slo: slo
      ? {
          url: inputs['slo-url'] ?? inputs.urls[0]!,
          requests: inputs['slo-requests'],
          concurrency: inputs['slo-concurrency'],
          p95Ms: inputs['slo-p95'],
          maxErrorRate: inputs['slo-max-error-rate'],
        }
      : undefined,
    watch: watchConfig(inputs, {
      intervalMs: inputs.interval,
      intervalInput: 'interval',
      attempts: inputs.attempts,
      p95Ms: inputs['slo-p95'],
      maxErrorRate: inputs['slo-max-error-rate'],
    }),
  };
}
