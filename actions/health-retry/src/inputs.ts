import { z } from 'zod';
import {
  boolean,
  checkedBy,
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
import {
  duplicateQueryNames,
  parseQueryLine,
  QUERY_EXAMPLE,
  type HealthConfig,
  type WatchConfig,
} from '#core/health/index.js';
import { bodyPattern, headerLine, httpUrl, parseJsonAssertion, requestBody } from '#core/http/index.js';

/** The inputs of health-retry, keyed by their action.yml names, with the same defaults. */
export const healthRetryInputs = {
  urls: lines(httpUrl, { min: 1 }),
  'expect-status': withDefault('200', statusSpec()),
  'expect-json': lines(parseJsonAssertion),
  'expect-body': optionalOf(checkedBy(bodyPattern)),
  'bearer-token': optional(),
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
  watch: withDefault('0s', duration()),
  'unhealthy-for': optionalDuration(),
  'prometheus-url': optionalOf(checkedBy(httpUrl)),
  'prometheus-token': optional(),
  queries: lines(parseQueryLine),
  'fail-on-unhealthy': withDefault('true', boolean()),
  method: withDefault('GET', oneOf(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'])),
  body: optional(),
  'body-file': optional(),
  'content-type': optional(),
  'report-path': optional(),
};

export type HealthRetryInputs = z.output<z.ZodObject<typeof healthRetryInputs>>;

/** The watch window and its Prometheus checks; inputs that only make sense together are checked together. */
export function watchConfig(inputs: HealthRetryInputs): WatchConfig | undefined {
  const { watch, queries, interval, attempts } = inputs;
  const url = inputs['prometheus-url'];
  if (queries.length > 0 && !url)
    throw new InputError(
      'queries',
      'needs prometheus-url, the Prometheus server to ask, e.g. https://prometheus.example.com',
    );
  if (url && queries.length === 0)
    throw new InputError(
      'prometheus-url',
      `is set but queries is empty; give one check per line, e.g. ${QUERY_EXAMPLE}`,
    );
  const twice = duplicateQueryNames(queries);
  if (twice.length > 0)
    throw new InputError('queries', `name ${twice.join(', ')} more than once; every query needs its own name`);
  if (watch === 0) {
    if (queries.length > 0)
      throw new InputError('queries', 'are evaluated during the watch window, which is off: set watch, e.g. watch: 3m');
    if (inputs['unhealthy-for'] !== undefined)
      throw new InputError('unhealthy-for', 'applies to the watch window, which is off: set watch, e.g. watch: 3m');
    return undefined;
  }
  if (interval === 0)
    throw new InputError(
      'interval',
      'must be more than 0 with watch: it is the wait between probes, e.g. interval: 5s',
    );
  return {
    windowMs: watch,
    unhealthyForMs: inputs['unhealthy-for'] ?? interval * attempts,
    p95Ms: inputs['slo-p95'],
    maxErrorRate: inputs['slo-max-error-rate'],
    prometheus: url ? { source: { url, token: inputs['prometheus-token'] }, queries } : undefined,
  };
}

export async function toConfig(inputs: HealthRetryInputs, workspace: string): Promise<HealthConfig> {
  const slo = inputs['slo-requests'] > 0;
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
    watch: watchConfig(inputs),
  };
}
