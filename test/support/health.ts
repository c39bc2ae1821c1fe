import type { HealthConfig } from '#core/health/config.js';
import { runHealthCheck } from '#core/health/run.js';
import { parseJsonAssertion, type JsonAssertion } from '#core/http/expectations.js';
import { parseStatusSpec } from '#core/units/status.js';
import { MemoryLogger } from '#core/logger.js';
import { Redactor } from '#core/redact.js';

/** `expect-json` lines as the action parses them. */
export const assertions = (...lines: string[]) =>
  lines.map((line) => (parseJsonAssertion(line) as { value: JsonAssertion }).value);

/** A health-retry configuration for `urls`: expect 200, short waits; `overrides` set the rest. */
export function healthConfig(urls: string[], overrides: Partial<HealthConfig> = {}): HealthConfig {
  return {
    urls: urls.map((url) => new URL(url)),
    expect: { status: parseStatusSpec('200')!, json: [] },
    headers: {},
    attempts: 6,
    intervalMs: 20,
    maxIntervalMs: 1_000,
    timeoutMs: 2_000,
    gracePeriodMs: 0,
    backoff: 'fixed',
    consecutiveSuccesses: 1,
    followRedirects: true,
    ...overrides,
  };
}

/** Runs the check in-process with `secrets` to mask; returns the outcome and the log lines. */
export async function checkHealth(cfg: HealthConfig, secrets: string[] = []) {
  const logger = new MemoryLogger();
  const outcome = await runHealthCheck(cfg, { logger, redactor: new Redactor(secrets) });
  return { outcome, log: logger.lines.map((line) => line.message) };
}
