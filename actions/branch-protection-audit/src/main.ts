import { dirname, join } from 'node:path';
import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { InputError } from '#action-kit/inputs.js';
import { unwritableFile } from '#core/report/index.js';
import { applyMode, branchProtectionAuditInputs, resolveInputs } from './inputs.js';

const count = () => outputValue().regex(/^\d+$/);

export const action = defineAction({
  name: 'branch-protection-audit',
  stage: 'audit',
  inputs: branchProtectionAuditInputs,
  secrets: { 'github-token': 'value' },
  argumentInputs: { policy: 'policy' },
  outputs: () =>
    z
      .object({
        p0: count(),
        p1: count(),
        p2: count(),
        compliant: z.enum(['true', 'false']),
        sarif: outputValue(),
      })
      .strict(),
  async main(inputs, context) {
    const { policy, targets, token, links } = await resolveInputs(inputs, context.github, context.workspace);
    // Files it writes after the audit (and after an apply changed settings) must be writable before it starts.
    for (const input of ['sarif-path', 'etag-cache'] as const) {
      const problem = inputs[input] ? await unwritableFile(inputs[input]) : undefined;
      if (problem) throw new InputError(input, problem);
    }
    const { audit, auditFacts, auditFailure, auditResults, toSarif, writeJsonFile } =
      await import('#core/protection/index.js');
    const { createGitHubClient } = await import('#core/github/client.js');
    const { conditionalClient } = await import('#core/github/protection-queries.js');
    const { loadEtagCache, saveEtagCache } = await import('#core/github/protection-etag-cache.js');
    // Conditional requests: what is read again (after apply, or in a later run with etag-cache) and did not change
    // is a 304, which costs no rate limit.
    const cachePath = inputs['etag-cache'];
    const cache = cachePath ? await loadEtagCache(cachePath, token) : new Map();
    const client = conditionalClient(createGitHubClient({ token, logger: context.logger }), undefined, cache);
    const apply = applyMode(inputs.apply);
    const options = { targets, policy, apply, dryRun: inputs['dry-run'], concurrency: inputs.concurrency, links };
    const report = await audit(client, options, context);
    if (cachePath) await saveEtagCache(cachePath, token, client.cache);
    const reportPath = inputs['report-path'] ?? context.defaultReportPath;
    const sarifPath = inputs['sarif-path'] ?? join(dirname(reportPath), 'branch-protection-audit.sarif');
    await writeJsonFile(sarifPath, toSarif(report.findings, '1'));
    const { p0, p1, p2 } = report.counts;
    return {
      title: 'Branch protection (SOLL/IST)',
      itemLabel: 'Finding',
      results: auditResults(report),
      facts: [
        ...auditFacts(report),
        ['SARIF', sarifPath],
        ...(cachePath
          ? [['Not modified (304, no rate limit)', String(client.stats.notModified)] as [string, string]]
          : []),
      ],
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
      failure: auditFailure(report, inputs['fail-on']),
    };
  },
});

export const run = action.run;
