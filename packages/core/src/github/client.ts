import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { boundedFetch, transportFailure } from './transport.js';

/**
 * The one way core talks to GitHub: Octokit with the retry plugin (transient 5xx, failed connections) and the
 * throttling plugin (primary and secondary rate limits), against api.github.com or a GitHub Enterprise Server
 * (`GITHUB_API_URL`, e.g. https://ghe.example.com/api/v3). Every attempt has a timeout and a response size
 * limit (transport.ts). Domain code depends only on `GitHubClient` and reads through the typed queries in
 * queries.ts, which check what comes back with zod.
 *
 * Bounds: an attempt that gets no complete answer within `timeoutMs` fails the request at once (a stalled API is
 * not retried), and so does a body over `maxResponseBytes`. 5xx answers and failed connections are retried up to
 * `retries` times, each attempt again bounded by `timeoutMs`, so one request takes at most
 * (retries + 1) × timeoutMs plus the retry waits (1, 4, 9… units: 14 s for the default 3 retries) plus any
 * rate-limit waits (each at most maxRateLimitWaitSeconds, at most `retries` of them).
 */
export interface GitHubResponse {
  status: number;
  /** The URL that answered. */
  url: string;
  data: unknown;
  headers: Record<string, string | number | undefined>;
}

export interface GitHubClient {
  request(route: string, parameters?: Record<string, unknown>): Promise<GitHubResponse>;
}

export interface GitHubClientOptions {
  token: string;
  /** API root; defaults to GITHUB_API_URL, then https://api.github.com. */
  baseUrl?: string;
  logger?: Logger;
  /** Retries of a transient failure (5xx) and of a rate-limited request. */
  retries?: number;
  /**
   * Milliseconds per unit of the plugins' waits (their default 1000 makes a unit a second).
   * Tests set 1 so a retry after "2 seconds" takes 2 ms.
   */
  retryUnitMs?: number;
  /** Rate-limit waits longer than this (in seconds) are not waited out; the request fails with the reset time. */
  maxRateLimitWaitSeconds?: number;
  userAgent?: string;
  /** Milliseconds one attempt may take, headers and body (default 30 s). */
  timeoutMs?: number;
  /** Largest response body read, in bytes (default 10 MiB). */
  maxResponseBytes?: number;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

export const DEFAULT_API_URL = 'https://api.github.com';

export function apiBaseUrl(explicit?: string): string {
  return (explicit || process.env.GITHUB_API_URL || DEFAULT_API_URL).replace(/\/+$/, '');
}

const RetryingOctokit = Octokit.plugin(retry, throttling);

export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  const logger = options.logger ?? silentLogger;
  const retries = options.retries ?? 3;
  const unit = options.retryUnitMs ?? 1000;
  const maxWait = options.maxRateLimitWaitSeconds ?? 120;
  const baseUrl = apiBaseUrl(options.baseUrl);
  const limits = {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  };
  const onLimit =
    (kind: string) =>
    (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
      if (retryCount < retries && retryAfter <= maxWait) {
        logger.warning(
          `GitHub ${kind} rate limit on ${request.method} ${request.url}; retrying in ${retryAfter}s (retry ${retryCount + 1} of ${retries})`,
        );
        return true;
      }
      logger.debug(
        `GitHub ${kind} rate limit on ${request.method} ${request.url}; not retrying (retry-after ${retryAfter}s, ${retryCount} retries used)`,
      );
      return false;
    };
  const octokit = new RetryingOctokit({
    auth: options.token,
    baseUrl,
    request: { fetch: boundedFetch(limits) },
    userAgent: options.userAgent ?? 'deploy-gates',
    log: {
      debug: () => {},
      info: () => {},
      warn: (message: string) => logger.debug(message),
      error: (message: string) => logger.debug(message),
    },
    retry: { retries, retryAfterBaseValue: unit },
    throttle: {
      // A private id per client, so tests with several doubles never share limiter state.
      id: `deploy-gates-${Math.random().toString(36).slice(2)}`,
      retryAfterBaseValue: unit,
      fallbackSecondaryRateRetryAfter: 60,
      onRateLimit: onLimit('primary'),
      onSecondaryRateLimit: onLimit('secondary'),
    },
  });
  return {
    request: async (route, parameters) => {
      try {
        const response = await octokit.request(route, parameters ?? {});
        return {
          status: response.status,
          url: response.url,
          data: response.data,
          headers: response.headers as GitHubResponse['headers'],
        };
      } catch (error) {
        throw transportFailure(error, baseUrl) ?? error;
      }
    },
  };
}
