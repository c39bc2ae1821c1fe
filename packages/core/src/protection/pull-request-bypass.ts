import type { BranchRule, ClassicProtection } from '../github/protection-schemas.js';
import { settingsPage, type BranchContext, type Finding } from './finding.js';

/**
 * Classic protection's `required_pull_request_reviews.bypass_pull_request_allowances`: these users, teams and apps
 * may push without a pull request (GitHub: "Allow specified actors to bypass required pull requests"), so past every
 * setting only a pull request enforces. The same thing a ruleset bypass actor does, judged the same way: a finding
 * at the branch's severity naming the actor, unless the policy lists it under `allowed-bypass:`. Ruleset
 * `pull_request` rules still bind such an actor, so a setting a ruleset gives as wanted is not bypassed.
 */
export const PULL_REQUEST_KEYS = [
  'required-approving-review-count',
  'dismiss-stale-reviews',
  'require-code-owner-reviews',
  'require-conversation-resolution',
] as const;
export type PullRequestKey = (typeof PULL_REQUEST_KEYS)[number];

export interface PullRequestBypass {
  /** `user:<id>`, `team:<id>`, `app:<id>` (the policy's actor keys) with the login or slug GitHub shows. */
  actors: { key: string; who: string }[];
  /** What the rulesets' pull_request rules give on their own. */
  byRulesets: Record<PullRequestKey, number | boolean>;
}

export function pullRequestBypass(
  full: ClassicProtection | undefined,
  pullRequestRules: readonly BranchRule[],
): PullRequestBypass {
  const allowed = full?.required_pull_request_reviews?.bypass_pull_request_allowances;
  const actors = [
    ...(allowed?.users ?? []).map((user) => ({ key: `user:${user.id ?? user.login}`, who: `user ${user.login}` })),
    ...(allowed?.teams ?? []).map((team) => ({ key: `team:${team.id ?? team.slug}`, who: `team ${team.slug}` })),
    ...(allowed?.apps ?? []).map((app) => ({
      key: `app:${app.id ?? app.slug ?? 'unknown'}`,
      who: `GitHub App ${app.slug ?? app.id ?? '(unnamed)'}`,
    })),
  ];
  const any = (key: string) => pullRequestRules.some((rule) => rule.parameters?.[key] === true);
  return {
    actors,
    byRulesets: {
      'required-approving-review-count': Math.max(
        0,
        ...pullRequestRules.map((rule) => Number(rule.parameters?.required_approving_review_count ?? 0)),
      ),
      'dismiss-stale-reviews': any('dismiss_stale_reviews_on_push'),
      'require-code-owner-reviews': any('require_code_owner_review'),
      'require-conversation-resolution': any('required_review_thread_resolution'),
    },
  };
}

/** The settings the policy asks for that an actor pushing without a pull request gets past. */
function bypassedKeys(ctx: BranchContext): PullRequestKey[] {
  const { byRulesets } = ctx.effective.pullRequestBypass;
  return PULL_REQUEST_KEYS.filter((key) => {
    const wanted = ctx.policy.settings[key];
    if (wanted === undefined || wanted === false || wanted === 0) return false;
    return key === 'required-approving-review-count'
      ? (byRulesets[key] as number) < (wanted as number)
      : byRulesets[key] !== wanted;
  });
}

export function pullRequestBypassFindings(ctx: BranchContext): Finding[] {
  const { actors } = ctx.effective.pullRequestBypass;
  const keys = actors.length ? bypassedKeys(ctx) : [];
  if (keys.length === 0) return [];
  const location = { path: ctx.policyPath, line: ctx.policy.lines['allowed-bypass'] ?? ctx.policy.line };
  return actors.map(({ key, who }) => {
    const accepted = ctx.policy.allowedBypass.includes(key);
    return {
      repository: ctx.repository,
      branch: ctx.branch,
      severity: ctx.policy.severity,
      rule: 'bypass' as const,
      subject: `pull request bypass ${key}`,
      status: accepted ? ('ok' as const) : ('violation' as const),
      wanted: accepted ? `${key} may bypass (allowed-bypass)` : `no one bypasses ${keys.join(', ')}`,
      actual: `${who} [${key}] may push without a pull request (classic protection's bypass_pull_request_allowances), past ${keys.join(', ')}`,
      source: `GET /repos/${ctx.repository}/branches/${ctx.branch}/protection (required_pull_request_reviews.bypass_pull_request_allowances)`,
      fix: accepted
        ? ''
        : `remove ${who} from "Allow specified actors to bypass required pull requests" at ${settingsPage(ctx.links, ctx.repository)}, or accept it with allowed-bypass: [${key}] in the policy`,
      location,
    };
  });
}
