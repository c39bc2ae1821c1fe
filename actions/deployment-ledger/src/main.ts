import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { InputError } from '#action-kit/inputs.js';
import { buildLedger, readReports, renderLedger, verdictLine } from '#core/ledger/index.js';
import { urlCredentials } from '#core/redact.js';
import { unwritableFile, writeJsonReport } from '#core/report/index.js';
import { deploymentLedgerInputs } from './inputs.js';

export const action = defineAction({
  name: 'deployment-ledger',
  stage: 'ledger',
  inputs: deploymentLedgerInputs,
  // A URL with credentials in it (`https://x-access-token:…@…`) shows in the summary and the ledger masked.
  secrets: { 'build-run-url': urlCredentials, 'run-url': urlCredentials },
  argumentInputs: { reports: 'reports', reportsDir: 'reports-dir' },
  outputs: () =>
    z.object({
      go: z.enum(['true', 'false']),
      verdict: outputValue(),
      ledger: outputValue(),
      'current-release': outputValue().optional(),
      'rolled-back': z.enum(['true', 'false']),
    }),
  async main(inputs, context) {
    const { run, repository, actor, runUrl } = context.github;
    if (inputs.reports.length === 0 && !inputs['reports-dir']) {
      throw new InputError(
        'reports',
        "is empty, and so is reports-dir: give the actions' JSON reports (their report outputs, one per line) or the directory they are in",
      );
    }
    const path =
      inputs['ledger-path'] ??
      context.defaultReportPath.replace(/deployment-ledger-report\.json$/, 'deployment-ledger.json');
    const unwritable = inputs['ledger-path'] ? await unwritableFile(path) : undefined;
    if (unwritable) throw new InputError('ledger-path', unwritable);
    const reports = await readReports(inputs.reports, inputs['reports-dir'], context.logger);
    const ledger = buildLedger(reports, {
      run: {
        url: inputs['run-url'] ?? runUrl ?? null,
        id: run ? String(run.id) : null,
        attempt: run ? String(run.attempt) : null,
        repository: repository ? `${repository.owner}/${repository.repo}` : null,
        actor: actor ?? null,
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
