import type { CheckResult } from '../report/result.js';

/** One endpoint's probes over the watch window. */
export interface WatchEndpointReport {
  url: string;
  probes: number;
  failures: number;
  /** The longest stretch without a healthy answer, in ms. */
  longestUnhealthyMs: number;
  /** One symbol per probe (or per bucket of probes): ✅ healthy, ❌ unhealthy, 🟨 both in one bucket. */
  timeline: string;
  p95Ms: number | null;
  /** Offset from the window's start (ms) and reason of the first and last failed probe. */
  firstFailure: { atMs: number; status?: number; reason: string } | null;
  lastFailure: { atMs: number; status?: number; reason: string } | null;
}

/** One Prometheus query's evaluations over the watch window. */
export interface WatchQueryReport {
  name: string;
  query: string;
  op: string;
  threshold: string;
  /** The query at the switch (`time=` the start of health-retry); null when the threshold does not use it. */
  baseline: number | null;
  evaluations: number;
  errors: number;
  /** Evaluations that found no series (counted as 0). */
  emptyResults: number;
  min: number | null;
  max: number | null;
  last: number | null;
  breach: { atMs: number; value: number; threshold: number } | null;
  lastError: string | null;
}

/** What the watch window reports: per endpoint, per Prometheus query, and the SLO over every probe. */
export interface WatchReport {
  windowMs: number;
  intervalMs: number;
  unhealthyForMs: number;
  startedAt: string;
  elapsedMs: number;
  completed: boolean;
  cancelled: boolean;
  failure: string | null;
  endpoints: WatchEndpointReport[];
  queries: WatchQueryReport[];
  slo: {
    probes: number;
    errors: number;
    errorRate: number;
    p95Ms: number | null;
    p95LimitMs?: number;
    maxErrorRate?: number;
    pass: boolean;
  } | null;
  results: CheckResult[];
}
