import { bypassFindings } from './bypass-findings.js';
import { checkFindings } from './check-findings.js';
import { settingsPage, show, type BranchContext, type Finding, type FindingStatus, type Links } from './finding.js';
import type { BranchPolicy, SettingKey, Severity } from './policy.js';
import { pullRequestBypassFindings } from './pull-request-bypass.js';

const API_FIELD: Record<SettingKey, string> = {
  'required-status-checks': 'required_status_checks.contexts',
  strict: 'required_status_checks.strict',
  'enforce-admins': 'enforce_admins',
  'required-approving-review-count': 'required_pull_request_reviews.required_approving_review_count',
  'dismiss-stale-reviews': 'required_pull_request_reviews.dismiss_stale_reviews',
  'require-code-owner-reviews': 'required_pull_request_reviews.require_code_owner_reviews',
  'require-linear-history': 'required_linear_history',
  'allow-force-pushes': 'allow_force_pushes',
  'allow-deletions': 'allow_deletions',
  'require-signed-commits': 'POST/DELETE …/protection/required_signatures',
  'require-conversation-resolution': 'required_conversation_resolution',
};

function fixFor(
  links: Links,
  repository: string,
  branch: string,
  key: SettingKey | 'protected',
  wanted: unknown,
): string {
  const api = `PUT /repos/${repository}/branches/${branch}/protection`;
  const page = settingsPage(links, repository);
  if (key === 'protected')
    return `protect it at ${page} (or a ruleset at ${page.replace(/branches$/, 'rules')}), or run with apply: true and an admin token (${api})`;
  if (key === 'require-signed-commits')
    return `${page}: require signed commits (${wanted ? 'POST' : 'DELETE'} /repos/${repository}/branches/${branch}/protection/required_signatures)`;
  return `${page}: set ${key} to ${show(wanted)} (${api} with ${API_FIELD[key]}), or run with apply: true`;
}

function compare(key: SettingKey, wanted: unknown, actual: unknown): boolean {
  if (key === 'required-status-checks')
    return (wanted as string[]).every((check) => (actual as string[]).includes(check));
  if (key === 'required-approving-review-count') return (actual as number) >= (wanted as number);
  return actual === wanted;
}

const baseOf = (ctx: BranchContext) => ({
  repository: ctx.repository,
  branch: ctx.branch,
  severity: ctx.policy.severity,
});
const at = (ctx: BranchContext, key?: keyof BranchPolicy['lines']) => ({
  path: ctx.policyPath,
  line: (key && ctx.policy.lines[key]) ?? ctx.policy.line,
});

function settingFinding(ctx: BranchContext, key: SettingKey, wanted: unknown): Finding {
  const actual = ctx.effective.settings[key];
  if (!actual.known)
    return {
      ...baseOf(ctx),
      rule: key,
      status: 'unknown',
      wanted: show(wanted),
      actual: `unknown (${actual.why})`,
      source: actual.why,
      fix: 'run with a token that has Administration: read (a fine-grained PAT or GitHub App) to read classic protection',
      location: at(ctx, key),
    };
  const ok = compare(key, wanted, actual.value);
  const emptyChecks =
    key === 'required-status-checks' && (wanted as string[]).length > 0 && (actual.value as string[]).length === 0;
  return {
    ...baseOf(ctx),
    ...(emptyChecks ? { severity: 'P0' as const, rule: 'required-checks-empty' as const } : { rule: key }),
    status: ok ? 'ok' : 'violation',
    wanted: show(wanted),
    actual: emptyChecks ? 'protected, but no required status checks' : show(actual.value),
    source: actual.source,
    fix: ok ? '' : fixFor(ctx.links, ctx.repository, ctx.branch, key, wanted),
    location: at(ctx, key),
  };
}

/** The findings of one existing branch against the policy entry that matched it. */
export function judgeBranch(ctx: BranchContext): Finding[] {
  const entries = Object.entries(ctx.policy.settings) as [SettingKey, unknown][];
  if (entries.length === 0) return [];
  if (!ctx.effective.protected) {
    return [
      {
        ...baseOf(ctx),
        rule: 'protected',
        status: 'violation',
        wanted: 'protected',
        actual: 'not protected (no classic protection, no enforced ruleset)',
        source: ctx.effective.classic.kind === 'none' ? ctx.effective.classic.source : 'branch',
        fix: fixFor(ctx.links, ctx.repository, ctx.branch, 'protected', true),
        location: at(ctx),
      },
    ];
  }
  return [
    ...entries.map(([key, wanted]) => settingFinding(ctx, key, wanted)),
    ...bypassFindings(ctx),
    ...pullRequestBypassFindings(ctx),
    ...checkFindings(ctx),
  ];
}

export const SEVERITY_ORDER: Record<Severity, number> = { P0: 0, P1: 1, P2: 2 };
const STATUS_ORDER: Record<FindingStatus, number> = { violation: 0, unknown: 1, ok: 2 };

/** Worst first: violations by severity, then unknowns, then what is as wanted. */
export function worstFirst(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      STATUS_ORDER[a.status] - STATUS_ORDER[b.status] ||
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      a.repository.localeCompare(b.repository) ||
      a.branch.localeCompare(b.branch) ||
      a.rule.localeCompare(b.rule),
  );
}
