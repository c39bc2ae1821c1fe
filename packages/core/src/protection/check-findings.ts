import { GITHUB_ACTIONS_APP_ID } from './bypass.js';
import { settingsPage, type BranchContext, type Finding } from './finding.js';
import { canReport } from './workflows.js';

/**
 * Where required checks come from. A check not pinned to an app (`app_id` null, "any source") is satisfied by a
 * commit status anyone with `statuses: write` can set — a P2 finding unless the policy says `app: any`; with
 * `app: github-actions` or an app slug every required check must be pinned to that app. A required check no
 * workflow job can report blocks every merge (P1); with a merge queue, a check from a workflow that does not run on
 * `merge_group` never reports on the queue's merge commit and the queue stalls (P1).
 */
export function checkFindings(ctx: BranchContext): Finding[] {
  const checks = ctx.effective.settings['required-status-checks'];
  if (!checks.known) return [];
  const wanted = (ctx.policy.settings['required-status-checks'] ?? []).filter((check) => checks.value.includes(check));
  return [...wanted.flatMap((check) => sourceFinding(ctx, check)), ...jobFindings(ctx, checks.value, checks.source)];
}

function sourceFinding(ctx: BranchContext, check: string): Finding[] {
  const app = ctx.effective.checkApps[check] ?? null;
  const policyApp = ctx.policy.app;
  if (policyApp === 'any') return [];
  const base = { repository: ctx.repository, branch: ctx.branch, subject: check };
  const location = {
    path: ctx.policyPath,
    line: ctx.policy.lines.app ?? ctx.policy.lines['required-status-checks'] ?? ctx.policy.line,
  };
  const fix = `${settingsPage(ctx.links, ctx.repository)}: pick the app "${check}" must come from (classic: checks: [{context, app_id}] in PUT …/protection; ruleset: integration_id of the required check)`;
  const actual = app === null ? 'any source (app_id null: anything with statuses: write can set it)' : `app ${app}`;
  if (policyApp === undefined)
    return app === null
      ? [
          {
            ...base,
            rule: 'check-unpinned',
            severity: 'P2',
            status: 'violation',
            wanted: `"${check}" pinned to the app that reports it`,
            actual,
            source: ctx.effective.settings['required-status-checks'].known ? 'required status checks' : '',
            fix,
            location,
          },
        ]
      : [];
  const id = policyApp === 'github-actions' ? GITHUB_ACTIONS_APP_ID : ctx.apps.get(policyApp);
  const wantedText = `"${check}" from ${policyApp}${id === undefined ? '' : ` (app ${id})`}`;
  if (id === undefined)
    return [
      {
        ...base,
        rule: 'check-app',
        severity: ctx.policy.severity,
        status: 'unknown',
        wanted: wantedText,
        actual: `unknown (no GitHub App "${policyApp}" found: GET /apps/${policyApp})`,
        source: `GET /apps/${policyApp}`,
        fix: 'check the app slug in the policy',
        location,
      },
    ];
  if (app === id) return [];
  return [
    {
      ...base,
      rule: 'check-app',
      severity: ctx.policy.severity,
      status: 'violation',
      wanted: wantedText,
      actual,
      source: 'required status checks (app_id / integration_id)',
      fix,
      location,
    },
  ];
}

function jobFindings(ctx: BranchContext, required: readonly string[], source: string): Finding[] {
  const producers = ctx.producers;
  if (!producers) return [];
  // A check pinned to another app (not GitHub Actions) is reported by that app, not by a workflow job.
  const fromActions = (name: string) => {
    const app = ctx.effective.checkApps[name];
    return app === undefined || app === null || app === GITHUB_ACTIONS_APP_ID;
  };
  const base = {
    repository: ctx.repository,
    branch: ctx.branch,
    severity: 'P1' as const,
    status: 'violation' as const,
    source,
  };
  const location = { path: ctx.policyPath, line: ctx.policy.lines['required-status-checks'] ?? ctx.policy.line };
  const page = settingsPage(ctx.links, ctx.repository);
  const findings: Finding[] = [];
  for (const check of required.filter(fromActions)) {
    if (!canReport(producers, check)) {
      const disabled = canReport(producers.disabled, check);
      findings.push({
        ...base,
        subject: check,
        rule: 'check-without-job',
        wanted: `a job that reports "${check}"`,
        actual: disabled
          ? `only jobs of disabled workflows report it (${producers.disabledWorkflows.join(', ')}): GitHub runs none of their jobs, so the check is waited for forever`
          : 'no job in .github/workflows reports it',
        fix: disabled
          ? `enable the workflow (Actions tab, or PUT /repos/${ctx.repository}/actions/workflows/{workflow_id}/enable), or remove "${check}" from the required checks at ${page}`
          : `rename a job to "${check}" (job name:, or name (matrix values)) or remove it from the required checks at ${page}; if another app or service reports it, pin it to that app`,
        location,
      });
    } else if (ctx.effective.mergeQueue && !canReport(producers.mergeGroup, check))
      findings.push({
        ...base,
        subject: check,
        rule: 'check-not-on-merge-group',
        wanted: `"${check}" reported on the merge queue's merge group`,
        actual: 'the branch uses a merge queue, but no workflow with a job reporting it runs on merge_group',
        fix: `add \`merge_group:\` to the \`on:\` of the workflow whose job reports "${check}"`,
        location,
      });
  }
  return findings;
}
