import * as core from '#action-kit/runner.js';
import { z } from 'zod';
import {
  defaultReportPath,
  maskSecrets,
  outputValue,
  readInputs,
  runAction,
  runnerLogger,
  writeOutputs,
  writeSummary,
} from '#action-kit/index.js';
import { Redactor } from '#core/redact.js';
import { formatResultLine } from '#core/report/result.js';
import { writeJsonReport } from '#core/report/json.js';
import { formatDuration } from '#core/inputs/duration.js';
import type { HealthConfig } from '#core/health/config.js';
import { runHealthCheck, type HealthOutcome } from '#core/health/run.js';
import { healthRetryInputs, type HealthRetryInputs } from './inputs.js';

const SECRET_HEADER = /auth|cookie|token|secret|key|session|signature/i;

const outputsSchema = z.object({
  healthy: z.enum(['true', 'false']),
  attempts: outputValue(),
  'duration-ms': outputValue(),
  report: outputValue(),
  'p95-ms': outputValue().optional(),
  'error-rate': outputValue().optional(),
});

function toConfig(inputs: HealthRetryInputs): HealthConfig {
  const sloRequests = inputs['slo-requests'];
  return {
    urls: inputs.urls,
    expect: { status: inputs['expect-status'], json: inputs['expect-json'], body: inputs['expect-body'] },
    bearerToken: inputs['bearer-token'],
    headers: Object.fromEntries(inputs.headers),
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
    slo:
      sloRequests > 0
        ? {
            url: inputs['slo-url'] ?? inputs.urls[0]!,
            requests: sloRequests,
            concurrency: inputs['slo-concurrency'],
            p95Ms: inputs['slo-p95'],
            maxErrorRate: inputs['slo-max-error-rate'],
          }
        : undefined,
  };
}

function reportDocument(outcome: HealthOutcome, config: HealthConfig) {
  return {
    action: 'health-retry',
    healthy: outcome.healthy,
    attemptsUsed: outcome.attemptsUsed,
    durationMs: outcome.durationMs,
    worstCaseMs: outcome.worstCaseMs,
    settings: {
      attempts: config.attempts,
      intervalMs: config.intervalMs,
      backoff: config.backoff,
      timeoutMs: config.timeoutMs,
      gracePeriodMs: config.gracePeriodMs,
      consecutiveSuccesses: config.consecutiveSuccesses,
      expectStatus: config.expect.status.text,
      expectJson: config.expect.json.map((assertion) => assertion.text),
      expectBody: config.expect.body?.source,
      bearerToken: config.bearerToken ? 'set (masked)' : 'not set',
    },
    endpoints: outcome.endpoints,
    slo: outcome.slo,
    results: outcome.results,
  };
}

export async function run(): Promise<void> {
  await runAction(async () => {
    const redactor = new Redactor();
    // Masked before anything is parsed or logged, so no message can ever carry it.
    maskSecrets(redactor, core.getInput('bearer-token'));
    for (const line of core.getMultilineInput('headers')) {
      const [name, ...value] = line.split(':');
      if (name && SECRET_HEADER.test(name)) maskSecrets(redactor, value.join(':').trim());
    }
    const inputs = readInputs(healthRetryInputs);
    for (const url of [...inputs.urls, inputs['asset-manifest'], inputs['slo-url']]) {
      if (url?.password) maskSecrets(redactor, url.password, decodeURIComponent(url.password));
    }
    const config = toConfig(inputs);
    const logger = runnerLogger('health-retry');

    const outcome = await runHealthCheck(config, { logger, redactor });

    const reportPath = inputs['report-path'] ?? defaultReportPath('health-retry');
    await writeJsonReport(reportPath, reportDocument(outcome, config), redactor);
    outcome.results.forEach((result) => core.info(formatResultLine(result)));
    await writeSummary(
      {
        title: 'Health checks',
        results: outcome.results,
        facts: [
          ['Attempts used', `${outcome.attemptsUsed} of ${config.attempts}`],
          ['Duration', formatDuration(outcome.durationMs)],
          ['Report', reportPath],
        ],
      },
      redactor,
    );
    writeOutputs(
      outputsSchema,
      {
        healthy: String(outcome.healthy),
        attempts: String(outcome.attemptsUsed),
        'duration-ms': String(outcome.durationMs),
        report: reportPath,
        'p95-ms': outcome.slo ? String(Math.round(outcome.slo.p95Ms)) : undefined,
        'error-rate': outcome.slo ? String(Number(outcome.slo.errorRate.toFixed(4))) : undefined,
      },
      redactor,
    );

    if (outcome.healthy) {
      core.info(`Healthy: ${outcome.results.length} check(s) passed in ${formatDuration(outcome.durationMs)}`);
      return;
    }
    const failed = outcome.results.filter((result) => result.status === 'fail');
    const annotate = inputs['fail-on-unhealthy'] ? logger.error : logger.warning;
    for (const result of failed) annotate(`${result.name}: ${result.detail}`);
    const verdict = `Unhealthy: ${failed.length} of ${outcome.results.length} check(s) failed`;
    if (inputs['fail-on-unhealthy']) process.exitCode = core.ExitCode.Failure;
    core.info(inputs['fail-on-unhealthy'] ? verdict : `${verdict} (fail-on-unhealthy is false, so the step passes)`);
  });
}
