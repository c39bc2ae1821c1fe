import { z } from 'zod';
import {
  boolean,
  duration,
  integer,
  lines,
  oneOf,
  optional,
  optionalDuration,
  optionalRate,
  statusSpec,
  withDefault,
} from '#core/inputs/schema.js';
import { parseJsonAssertion, requestBody } from '#core/http/index.js';
import { splitPair } from '#core/inputs/lists.js';
import type { HealthConfig } from '#core/health/index.js';

function httpUrl(text: string): { value: URL } | { problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: `"${text}" is not a URL; write it in full, e.g. https://staging.example.com/health` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: `"${text}" is not an http(s) URL` };
  return { value: url };
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function header(line: string): { value: [string, string] } | { problem: string } {
  const pair = splitPair(line, ':');
  if (!pair || !HEADER_NAME.test(pair[0]))
    return { problem: `"${line.split(':')[0]}: …" is not a header line; write Name: value` };
  return { value: [pair[0].toLowerCase(), pair[1]] };
}

function regex(text: string): { value: RegExp } | { problem: string } {
  try {
    return { value: new RegExp(text) };
  } catch (error) {
    return { problem: `"${text}" is not a valid regular expression: ${(error as Error).message}` };
  }
}

const optionalUrl = () =>
  z.string().transform((text, ctx) => {
    if (text.trim() === '') return undefined;
    const result = httpUrl(text.trim());
    if ('problem' in result) {
      ctx.addIssue({ code: 'custom', message: result.problem });
      return z.NEVER;
    }
    return result.value;
  });

/** The inputs of health-retry, keyed by their action.yml names, with the same defaults. */
export const healthRetryInputs = {
  urls: lines(httpUrl, { min: 1 }),
  'expect-status': withDefault('200', statusSpec()),
  'expect-json': lines(parseJsonAssertion),
  'expect-body': z.string().transform((text, ctx) => {
    if (text === '') return undefined;
    const result = regex(text);
    if ('problem' in result) {
      ctx.addIssue({ code: 'custom', message: result.problem });
      return z.NEVER;
    }
    return result.value;
  }),
  'bearer-token': optional(),
  headers: lines(header),
  attempts: withDefault('6', integer({ min: 1, max: 1000 })),
  interval: withDefault('5s', duration()),
  'max-interval': withDefault('1m', duration()),
  timeout: withDefault(
    '10s',
    duration().refine((ms) => ms > 0, { message: 'must be longer than 0ms' }),
  ),
  'grace-period': withDefault('0s', duration()),
  backoff: withDefault('fixed', oneOf(['fixed', 'exponential'])),
  'consecutive-successes': withDefault('1', integer({ min: 1, max: 1000 })),
  'follow-redirects': withDefault('true', boolean()),
  'asset-manifest': optionalUrl(),
  'asset-base-url': optionalUrl(),
  'slo-requests': withDefault('0', integer({ min: 0, max: 100_000 })),
  'slo-concurrency': withDefault('10', integer({ min: 1, max: 1000 })),
  'slo-url': optionalUrl(),
  'slo-p95': optionalDuration(),
  'slo-max-error-rate': optionalRate(),
  'fail-on-unhealthy': withDefault('true', boolean()),
  method: withDefault('GET', oneOf(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'])),
  body: optional(),
  'body-file': optional(),
  'content-type': optional(),
  'report-path': optional(),
};

export type HealthRetryInputs = z.output<z.ZodObject<typeof healthRetryInputs>>;

const SECRET_HEADER = /auth|cookie|token|secret|key|session|signature/i;

/** The values of headers whose names say they carry a credential (`Authorization: …`, `X-Api-Key: …`). */
export const secretHeaderValues = (raw: string) =>
  raw.split('\n').map((line) => {
    const [name, ...value] = line.split(':');
    return name && SECRET_HEADER.test(name) ? value.join(':').trim() : undefined;
  });

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
  };
}
