import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CheckResult } from '../report/result.js';
import { oneLine } from '../text.js';
import type { AuditReport } from './audit.js';
import type { Finding } from './finding.js';

/**
 * The audit in the one result model: one row per checked setting, worst first — the SOLL/IST table
 * (`P0 octo/app main: required-status-checks` | SOLL … · IST … · fix …) — and per branch the Scorecard tier and what
 * the token could read.
 */
const STATUS = { violation: 'fail', unknown: 'skip', ok: 'pass' } as const;

export function findingRow(finding: Finding): CheckResult {
  const label = finding.status === 'violation' ? finding.severity : finding.status === 'unknown' ? 'unknown' : 'ok';
  const detail = `SOLL ${finding.wanted} · IST ${finding.actual}${finding.status === 'ok' ? ` (${finding.source})` : ''}${finding.fix ? ` · fix: ${finding.fix}` : ''}`;
  return {
    name: oneLine(
      `${label} ${finding.repository} ${finding.branch}: ${finding.rule}${finding.subject ? ` (${finding.subject})` : ''}`,
      200,
    ),
    status: STATUS[finding.status],
    detail: oneLine(detail, 600),
    durationMs: 0,
  };
}

export function auditResults(report: AuditReport): CheckResult[] {
  const rows = report.findings.map(findingRow);
  for (const repo of report.repositories.filter((candidate) => candidate.error))
    rows.unshift({
      name: `${repo.repository}`,
      status: 'fail',
      detail: oneLine(`not audited: ${repo.error}`, 600),
      durationMs: 0,
    });
  return rows;
}

export function auditFacts(report: AuditReport): [string, string][] {
  const facts: [string, string][] = [
    [
      'Findings',
      `P0 ${report.counts.p0}, P1 ${report.counts.p1}, P2 ${report.counts.p2}, unknown ${report.counts.unknown}, as wanted ${report.counts.ok}`,
    ],
  ];
  for (const repo of report.repositories) {
    for (const branch of repo.branches) {
      const rulesets = branch.rulesets
        .map(
          (set) =>
            `${set.name}${set.bypassActors === undefined ? ' (bypass actors unknown)' : set.bypassActors ? ` (${set.bypassActors} bypass actors)` : ''}`,
        )
        .join(', ');
      facts.push([
        `${repo.repository} ${branch.branch}`,
        oneLine(
          `Scorecard ${branch.scorecard.label}; classic protection ${branch.classic}; rulesets ${rulesets || 'none'}${branch.mergeQueue ? '; merge queue' : ''}${branch.applied ? `; applied: ${branch.applied.join('; ')}` : ''}`,
          600,
        ),
      ]);
    }
    if (repo.missing.length)
      facts.push([
        `${repo.repository}`,
        oneLine(`no branch ${repo.missing.join(', ')} (a branch-missing finding)`, 300),
      ]);
  }
  return facts;
}

const RANK = { P0: 0, P1: 1, P2: 2 } as const;

/** Why the step fails: findings at `failOn` or worse, else repositories that could not be audited; else nothing. */
export function auditFailure(report: AuditReport, failOn: 'P0' | 'P1' | 'P2' | 'never'): string | undefined {
  const { p0, p1, p2 } = report.counts;
  const failing =
    failOn === 'never' ? 0 : [p0, p1, p2].filter((_, index) => index <= RANK[failOn]).reduce((a, b) => a + b, 0);
  const notAudited = report.repositories.filter((repo) => repo.error).map((repo) => repo.repository);
  if (failing > 0)
    return `${failing} finding(s) at ${failOn} or worse (P0 ${p0}, P1 ${p1}, P2 ${p2}); the job summary lists each with the fix`;
  return notAudited.length > 0 ? `Could not audit ${notAudited.join(', ')}; see the log` : undefined;
}

export async function writeJsonFile(path: string, document: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(document, null, 2)}\n`);
}
