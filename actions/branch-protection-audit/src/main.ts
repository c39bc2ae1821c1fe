import { dirname, join } from 'node:path';
import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { audit, auditFacts, auditResults, toSarif, writeJsonFile } from '#core/protection/index.js';
import { branchProtectionAuditInputs, resolveInputs } from './inputs.js';

const count = () => outputValue().regex(/^\d+$/);
const RANK = { P0: 0, P1: 1, P2: 2 } as const;

export const action = defineAction({
  name: 'branch-protection-audit',
  stage: 'audit',
  inputs: branchProtectionAuditInputs,
  secrets: { 'github-token': 'value' },
  argumentInputs: { policy: 'policy' },
  outputs: z
    .object({
      p0: count(),
      p1: count(),
      p2: count(),
      compliant: z.enum(['true', 'false']),
      sarif: outputValue(),
    })
    .strict(),
  async main(inputs, context) {
    const { policy, targets, token } = await resolveInputs(inputs, context.github, context.workspace);
    const { createGitHubClient } = await import('#core/github/client.js');
    const { conditionalClient } = await import('#core/github/protection-queries.js');
    // Conditional requests: what is read again (after apply) and did not change costs no rate limit.
    const client = conditionalClient(createGitHubClient({ token, logger: context.logger }));
    const report = await audit(
      client,
      { targets, policy, apply: inputs.apply, concurrency: inputs.concurrency },
      context,
    );
    const reportPath = inputs['report-path'] ?? context.defaultReportPath;
    const sarifPath = inputs['sarif-path'] ?? join(dirname(reportPath), 'branch-protection-audit.sarif');
    await writeJsonFile(sarifPath, toSarif(report.findings, '1'));
    const { p0, p1, p2 } = report.counts;
    const failOn = inputs['fail-on'];
    const failing =
      failOn === 'never' ? 0 : [p0, p1, p2].filter((_, index) => index <= RANK[failOn]).reduce((a, b) => a + b, 0);
    const notAudited = report.repositories.filter((repo) => repo.error).map((repo) => repo.repository);
    const failure =
      failing > 0
        ? `${failing} finding(s) at ${failOn} or worse (P0 ${p0}, P1 ${p1}, P2 ${p2}); the job summary lists each with the fix`
        : notAudited.length > 0
          ? `Could not audit ${notAudited.join(', ')}; see the log`
          : undefined;
    return {
      title: 'Branch protection (SOLL/IST)',
      itemLabel: 'Finding',
      results: auditResults(report),
      facts: [...auditFacts(report), ['SARIF', sarifPath]],
      report: { details: report },
      outputs: {
        p0: String(p0),
        p1: String(p1),
        p2: String(p2),
        compliant: String(report.compliant),
        sarif: sarifPath,
      },
      verdict: report.compliant
        ? 'Every checked setting is known and as wanted'
        : `Not compliant: P0 ${p0}, P1 ${p1}, P2 ${p2}, unknown ${report.counts.unknown}`,
      failure,
    };
  },
});

export const run = action.run;
