import type { Dispatcher } from 'undici';
import type { StatusSpec } from '../units/status.js';
import { mapConcurrent } from './concurrency.js';
import { httpGet } from './request.js';

export interface LoadOptions {
  url: URL;
  requests: number;
  concurrency: number;
  timeoutMs: number;
  expectStatus: StatusSpec;
  originHeaders: Readonly<Record<string, string>>;
  followRedirects: boolean;
  dispatcher: Dispatcher;
}

export interface LoadResult {
  requests: number;
  errors: number;
  errorRate: number;
  /** Nearest-rank 95th percentile of the latency of every request, failed ones included; what `hey` calls p95. */
  p95Ms: number;
  maxMs: number;
  /** The commonest reasons for errors, most frequent first. */
  errorReasons: string[];
}

/** Nearest-rank percentile of a list of numbers (0 < p ≤ 100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Sends `requests` GETs with `concurrency` in flight (like `hey -n 100 -c 10`) and measures latency and errors. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const outcomes = await mapConcurrent(Array.from({ length: options.requests }), options.concurrency, () =>
    httpGet(options.url, { ...options, discardBody: true }),
  );
  const reasons = new Map<string, number>();
  let errors = 0;
  for (const outcome of outcomes) {
    const reason = !outcome.ok
      ? outcome.failure.message
      : options.expectStatus.matches(outcome.response.status)
        ? undefined
        : `HTTP ${outcome.response.status}`;
    if (reason) {
      errors++;
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
  }
  const latencies = outcomes.map((outcome) => outcome.latencyMs);
  return {
    requests: outcomes.length,
    errors,
    errorRate: outcomes.length === 0 ? 0 : errors / outcomes.length,
    p95Ms: percentile(latencies, 95),
    maxMs: Math.max(...latencies),
    errorReasons: [...reasons.entries()].sort((a, b) => b[1] - a[1]).map(([reason, count]) => `${reason} ×${count}`),
  };
}
