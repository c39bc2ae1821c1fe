import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';

/**
 * The one way core talks to GitHub: Octokit with the retry plugin (transient 5xx) and the throttling
 * plugin (primary and secondary rate limits), against api.github.com or a GitHub Enterprise Server
 * (`GITHUB_API_URL`, e.g. https://ghe.example.com/api/v3). Domain code depends only on `GitHubClient`,
 * the `request` method, and validates what comes back with zod.
 */
export interface GitHubResponse {
  status: number;
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
}

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
  const onLimit = (kind: string) => (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
    if (retryCount < retries && retryAfter <= maxWait) {
      logger.warning(`GitHub ${kind} rate limit on ${request.method} ${request.url}; retrying in ${retryAfter}s (retry ${retryCount + 1} of ${retries})`);
      return true;
    }
    logger.debug(`GitHub ${kind} rate limit on ${request.method} ${request.url}; not retrying (retry-after ${retryAfter}s, ${retryCount} retries used)`);
    return false;
  };
  const octokit = new RetryingOctokit({
    auth: options.token,
    baseUrl: apiBaseUrl(options.baseUrl),
    userAgent: options.userAgent ?? 'deploy-gates',
    log: { debug: () => {}, info: () => {}, warn: (message: string) => logger.debug(message), error: (message: string) => logger.debug(message) },
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
      const response = await octokit.request(route, parameters ?? {});
      return { status: response.status, data: response.data, headers: response.headers as GitHubResponse['headers'] };
    },
  };
}
