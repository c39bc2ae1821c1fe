import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { InputError } from '#core/errors.js';
import { buildLedger, readReports, renderLedger, verdictLine } from '#core/ledger/index.js';
import { writeJsonReport } from '#core/report/index.js';
import { deploymentLedgerInputs } from './inputs.js';

export const action = defineAction({
  name: 'deployment-ledger',
  stage: 'ledger',
  inputs: deploymentLedgerInputs,
  outputs: z.object({
    go: z.enum(['true', 'false']),
    verdict: outputValue(),
    ledger: outputValue(),
    'current-release': outputValue().optional(),
    'rolled-back': z.enum(['true', 'false']),
  }),
  async main(inputs, context) {
    const env = process.env;
    const thisRun =
      env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
        ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
        : undefined;
    if (inputs.reports.length === 0 && !inputs['reports-dir']) {
      throw new InputError(
        'reports',
        "is empty, and so is reports-dir: give the actions' JSON reports (their report outputs, one per line) or the directory they are in",
      );
    }
    const reports = await readReports(inputs.reports, inputs['reports-dir'], context.logger);
    const ledger = buildLedger(reports, {
      run: {
        url: inputs['run-url'] ?? thisRun ?? null,
        id: env.GITHUB_RUN_ID || null,
        attempt: env.GITHUB_RUN_ATTEMPT || null,
        repository: env.GITHUB_REPOSITORY || null,
        actor: env.GITHUB_ACTOR || null,
      },
      environment: inputs.environment,
      approver: inputs.approver,
      sha: inputs.sha,
      buildRunUrl: inputs['build-run-url'],
      startedAt: inputs['started-at'],
      endedAt: new Date().toISOString(),
      jobs: inputs.jobs,
      require: inputs.require,
    });
    const path =
      inputs['ledger-path'] ??
      context.defaultReportPath.replace(/deployment-ledger-report\.json$/, 'deployment-ledger.json');
    await writeJsonReport(path, ledger, context.redactor);
    const verdict = verdictLine(ledger);
    return {
      title: 'Deployment ledger',
      itemLabel: 'Stage',
      results: ledger.stages.map((stage) => ({
        name: stage.name,
        status: stage.ok ? 'pass' : 'fail',
        detail: `${stage.results.filter((r) => r.status === 'pass').length}/${stage.results.length} passed`,
        durationMs: stage.durationMs,
      })),
      report: { release: ledger.releases.new, sha: ledger.sha, details: ledger },
      summary: renderLedger(ledger),
      outputs: {
        go: String(ledger.verdict === 'GO') as 'true' | 'false',
        verdict,
        ledger: path,
        'current-release': ledger.releases.current ?? undefined,
        'rolled-back': String(ledger.rolledBack) as 'true' | 'false',
      },
      verdict,
      failure: ledger.verdict === 'NO-GO' && inputs['fail-on-no-go'] ? verdict : undefined,
    };
  },
});

export const run = action.run;
