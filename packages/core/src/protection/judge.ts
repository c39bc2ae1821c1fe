import type { EffectiveProtection } from './effective.js';
import type { BranchPolicy, SettingKey, Severity } from './policy.js';
import { canReport, type CheckProducers } from './workflows.js';

/**
 * Findings: what the policy wants of a branch against what it has. A setting is a `violation` (known and not as
 * wanted), `unknown` (this token cannot read it: never a violation, never compliant) or `ok`.
 */
export type FindingStatus = 'violation' | 'unknown' | 'ok';

export type Rule =
  | SettingKey
  | 'protected'
  | 'required-checks-empty'
  | 'check-without-job'
  | 'duplicate-workflow-name'
  | 'branch-missing';

export interface Finding {
  repository: string;
  branch: string;
  rule: Rule;
  status: FindingStatus;
  severity: Severity;
  wanted: string;
  actual: string;
  /** Where the actual value was learned (or why it is unknown). */
  source: string;
  /** The settings page or API call that fixes it. */
  fix: string;
  /** The policy line that asked for it (SARIF location), or a workflow file. */
  location: { path: string; line: number };
}

const show = (value: unknown): string =>
  Array.isArray(value) ? (value.length ? value.join(', ') : 'none') : String(value);

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

export function settingsPage(repository: string): string {
  return `https://github.com/${repository}/settings/branches`;
}

function fixFor(repository: string, branch: string, key: SettingKey | 'protected', wanted: unknown): string {
  const api = `PUT /repos/${repository}/branches/${branch}/protection`;
  if (key === 'protected')
    return `protect it at ${settingsPage(repository)} (or a ruleset at https://github.com/${repository}/settings/rules), or run with apply: true and an admin token (${api})`;
  if (key === 'require-signed-commits')
    return `${settingsPage(repository)}: require signed commits (${wanted ? 'POST' : 'DELETE'} /repos/${repository}/branches/${branch}/protection/required_signatures)`;
  return `${settingsPage(repository)}: set ${key} to ${show(wanted)} (${api} with ${API_FIELD[key]}), or run with apply: true`;
}

function compare(key: SettingKey, wanted: unknown, actual: unknown): boolean {
  if (key === 'required-status-checks')
    return (wanted as string[]).every((check) => (actual as string[]).includes(check));
  if (key === 'required-approving-review-count') return (actual as number) >= (wanted as number);
  return actual === wanted;
}

export interface BranchJudgement {
  findings: Finding[];
}

/** The findings of one existing branch against the policy entry that matched it. */
export function judgeBranch(
  repository: string,
  branch: string,
  policy: BranchPolicy,
  policyPath: string,
  effective: EffectiveProtection,
  producers: CheckProducers | undefined,
): Finding[] {
  const base = { repository, branch, severity: policy.severity };
  const at = (key?: SettingKey) => ({ path: policyPath, line: (key && policy.lines[key]) ?? policy.line });
  const entries = Object.entries(policy.settings) as [SettingKey, unknown][];
  if (entries.length === 0) return [];
  if (!effective.protected) {
    return [
      {
        ...base,
        rule: 'protected',
        status: 'violation',
        wanted: 'protected',
        actual: 'not protected (no classic protection, no enforced ruleset)',
        source: effective.classic.kind === 'none' ? effective.classic.source : 'branch',
        fix: fixFor(repository, branch, 'protected', true),
        location: at(),
      },
    ];
  }
  const findings: Finding[] = [];
  for (const [key, wanted] of entries) {
    const actual = effective.settings[key];
    if (!actual.known) {
      findings.push({
        ...base,
        rule: key,
        status: 'unknown',
        wanted: show(wanted),
        actual: `unknown (${actual.why})`,
        source: actual.why,
        fix: 'run with a token that has Administration: read (a fine-grained PAT or GitHub App) to read classic protection',
        location: at(key),
      });
      continue;
    }
    const ok = compare(key, wanted, actual.value);
    const emptyChecks =
      key === 'required-status-checks' && (wanted as string[]).length > 0 && (actual.value as string[]).length === 0;
    findings.push({
      ...base,
      ...(emptyChecks ? { severity: 'P0' as const, rule: 'required-checks-empty' as const } : { rule: key }),
      status: ok ? 'ok' : 'violation',
      wanted: show(wanted),
      actual: emptyChecks ? 'protected, but no required status checks' : show(actual.value),
      source: actual.source,
      fix: ok ? '' : fixFor(repository, branch, key, wanted),
      location: at(key),
    });
  }
  // A required check no job can report: pull requests can never merge (or the name is a typo).
  const checks = effective.settings['required-status-checks'];
  if (producers && checks.known) {
    // A check pinned to another app (not GitHub Actions) is reported by that app, not by a workflow job.
    const fromActions = (name: string) =>
      effective.checkApps[name] === undefined || effective.checkApps[name] === GITHUB_ACTIONS_APP_ID;
    for (const check of checks.value.filter((name) => fromActions(name) && !canReport(producers, name))) {
      findings.push({
        ...base,
        severity: 'P1',
        rule: 'check-without-job',
        status: 'violation',
        wanted: `a job that reports "${check}"`,
        actual: 'no job in .github/workflows reports it',
        source: checks.source,
        fix: `rename a job to "${check}" (job name:, or name (matrix values)) or remove it from the required checks at ${settingsPage(repository)}; if another app or service reports it, ignore this`,
        location: at('required-status-checks'),
      });
    }
  }
  return findings;
}

/** The id of the GitHub Actions app, which reports the check runs of workflow jobs. */
export const GITHUB_ACTIONS_APP_ID = 15368;

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
