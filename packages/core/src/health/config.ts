import type { ResponseExpectations } from '../http/expectations.js';
import type { RequestBody } from '../http/request.js';
import type { WatchConfig } from './watch.js';

export type Backoff = 'fixed' | 'exponential';

export interface SloConfig {
  url: URL;
  requests: number;
  concurrency: number;
  /** Upper bound for the p95 latency; unset = measured, not enforced. */
  p95Ms?: number;
  /** Upper bound for the share of failed requests (0..1); unset = measured, not enforced. */
  maxErrorRate?: number;
}

export interface HealthConfig {
  urls: readonly URL[];
  expect: ResponseExpectations;
  /** Sent as `Authorization: Bearer …` to the origin of each configured URL, never across a redirect to another origin. */
  bearerToken?: string;
  headers: Readonly<Record<string, string>>;
  /** The method of each endpoint's request: GET, or POST/PUT/PATCH/DELETE for a smoke check (the SLO probe and the asset manifest stay GET). */
  method?: string;
  /** Sent with `method` to each endpoint (not to another origin: see http/request.ts). */
  body?: RequestBody;
  attempts: number;
  intervalMs: number;
  maxIntervalMs: number;
  timeoutMs: number;
  gracePeriodMs: number;
  backoff: Backoff;
  consecutiveSuccesses: number;
  followRedirects: boolean;
  assetManifest?: URL;
  assetBase?: URL;
  slo?: SloConfig;
  /** After the first healthy pass, keep probing every `intervalMs` for a window (and ask Prometheus). */
  watch?: WatchConfig;
}

/** The wait before attempt `attempt + 1` (attempt is 1-based). */
export function waitAfter(
  attempt: number,
  config: Pick<HealthConfig, 'intervalMs' | 'maxIntervalMs' | 'backoff'>,
): number {
  // max-interval bounds the doubling only: a fixed wait is `interval`, whatever max-interval's default says.
  if (config.backoff !== 'exponential') return config.intervalMs;
  return Math.min(config.intervalMs * 2 ** (attempt - 1), config.maxIntervalMs);
}

/** The longest the retry phase can take: grace + every attempt cut at its timeout + every wait between attempts. */
export function worstCaseMs(config: HealthConfig): number {
  let total = config.gracePeriodMs + config.attempts * config.timeoutMs;
  for (let attempt = 1; attempt < config.attempts; attempt++) total += waitAfter(attempt, config);
  return total;
}

/** A URL as it may be shown: without user info, which could hold a password. */
export function displayUrl(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const shown = new URL(url);
  shown.username = '';
  shown.password = '';
  return shown.href;
}
