import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { once } from '../lazy.js';
import { httpRequest } from '../http/request.js';
import type { Redactor } from '../redact.js';
import { oneLine } from '../text.js';

/** Where and how the watch window asks Prometheus (its HTTP API, `/api/v1/query`). */
export interface PrometheusSource {
  /** The server's base URL, e.g. `https://prometheus.example.com` (or with a path prefix, `…/prometheus`). */
  url: URL;
  /** Sent as `Authorization: Bearer …` to that origin only (never across a redirect to another). */
  token?: string;
}

export type QueryAnswer = { ok: true; value: number; series: number } | { ok: false; error: string };

/** Built on first use (see ../lazy.ts): only a step with a watch window asks Prometheus. */
const answer = once(() => {
  /** `[ <unix time>, "<value>" ]`: Prometheus writes sample values as strings (`"0.5"`, `"NaN"`, `"+Inf"`). */
  const sample = z.tuple([z.number(), z.string()]);
  return z.union([
    z.object({
      status: z.literal('success'),
      data: z.discriminatedUnion('resultType', [
        z.object({
          resultType: z.literal('vector'),
          result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: sample })),
        }),
        z.object({ resultType: z.literal('scalar'), result: sample }),
        z.object({ resultType: z.enum(['matrix', 'string']), result: z.unknown() }),
      ]),
    }),
    z.object({ status: z.literal('error'), errorType: z.string(), error: z.string() }),
  ]);
});

function sampleValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return text === 'NaN' ? Number.NaN : Number(text.trim() === '' ? 'x' : text);
}

/** The one number a query answered, or why there is none. An empty vector is 0 (see README: no series, no errors). */
function valueOf(parsed: z.output<ReturnType<typeof answer>>): QueryAnswer {
  if (parsed.status === 'error') return { ok: false, error: `${parsed.errorType}: ${parsed.error}` };
  const { data } = parsed;
  if (data.resultType === 'scalar') return { ok: true, value: sampleValue(data.result[1]), series: 1 };
  if (data.resultType !== 'vector')
    return {
      ok: false,
      error: `the query returns a ${data.resultType}, not one number; use an instant vector or scalar`,
    };
  if (data.result.length === 0) return { ok: true, value: 0, series: 0 };
  if (data.result.length > 1)
    return {
      ok: false,
      error: `the query returns ${data.result.length} series, not one number; aggregate it, e.g. sum(…) or max(…)`,
    };
  return { ok: true, value: sampleValue(data.result[0]!.value[1]), series: 1 };
}

/**
 * Evaluates `expr` at `time` (unix seconds; now when absent) with one POST to `/api/v1/query`. The answer is a server
 * body — untrusted text: parsed by schema, and any text of it that reaches a message is masked, one line and short.
 * Never throws.
 */
export async function queryPrometheus(
  source: PrometheusSource,
  expr: string,
  options: { time?: number; timeoutMs: number; dispatcher: Dispatcher; redactor: Redactor },
): Promise<QueryAnswer> {
  const endpoint = new URL(`${source.url.pathname.replace(/\/+$/, '')}/api/v1/query`, source.url);
  const { username, password } = endpoint;
  endpoint.username = '';
  endpoint.password = '';
  // A bearer token, or the URL's own user and password as Basic auth (Prometheus' web.config basic_auth_users).
  const basic = Buffer.from(`${decodeURIComponent(username)}:${decodeURIComponent(password)}`).toString('base64');
  const authorization = source.token ? `Bearer ${source.token}` : username || password ? `Basic ${basic}` : undefined;
  const form = new URLSearchParams({ query: expr });
  if (options.time !== undefined) form.set('time', options.time.toFixed(3));
  const outcome = await httpRequest(endpoint, {
    dispatcher: options.dispatcher,
    timeoutMs: options.timeoutMs,
    method: 'POST',
    body: { data: Buffer.from(form.toString()), contentType: 'application/x-www-form-urlencoded' },
    originHeaders: authorization ? { authorization } : {},
    maxBodyBytes: 1 << 20,
  });
  const short = (text: string) => oneLine(text, 200, options.redactor);
  if (!outcome.ok) return { ok: false, error: short(`Prometheus not reachable: ${outcome.failure.message}`) };
  const { status, body } = outcome.response;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, error: short(`Prometheus answered HTTP ${status} that is not JSON: "${body}"`) };
  }
  const parsed = answer().safeParse(json);
  if (!parsed.success)
    return { ok: false, error: short(`Prometheus answered HTTP ${status} in an unknown shape: "${body}"`) };
  const value = valueOf(parsed.data);
  if (value.ok && (status < 200 || status > 299)) return { ok: false, error: `Prometheus answered HTTP ${status}` };
  return value.ok ? value : { ok: false, error: short(value.error) };
}
