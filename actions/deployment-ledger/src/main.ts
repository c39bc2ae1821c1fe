import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { buildLedger, readReports, renderLedger, verdictLine } from '#core/ledger/index.js';
import { urlCredentials } from '#core/redact.js';
import { writeJsonReport } from '#core/report/index.js';
import { deploymentLedgerInputs, ledgerFacts, ledgerPath } from './inputs.js';

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
    const path = await ledgerPath(inputs, context.defaultReportPath);
    const reports = await readReports(inputs.reports, inputs['reports-dir'], context.logger);
    const ledger = buildLedger(reports, ledgerFacts(inputs, context.github));
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
