import type { ClassicRead } from '../github/protection-queries.js';
import type { Branch, BranchRule, ClassicProtection, Ruleset } from '../github/protection-schemas.js';
import type { SettingKey } from './policy.js';

/**
 * The protection a branch really has: classic branch protection and the rules of enforced rulesets together.
 * Every setting is either known (with where it was learned) or unknown — never guessed. Classic protection is
 * read in full only with admin rights; otherwise the branch's `protected` flag and protection summary (required
 * checks and their enforcement level) are what is known of it. Ruleset rules are readable by anyone who can read
 * the repository; rulesets in `evaluate` mode are not enforced and do not count, and a ruleset with bypass actors
 * does not bind administrators.
 */
export type Known<T> = { known: true; value: T; source: string } | { known: false; why: string };

/** Settings the Scorecard tiers need besides the policy's. */
export type ExtraSetting = 'require-pull-request' | 'require-last-push-approval';
export type EffectiveKey = SettingKey | ExtraSetting;

export type ClassicView =
  | { kind: 'none'; source: string }
  | { kind: 'full'; protection: ClassicProtection }
  /** Not readable with this token: only the branch's summary is known. */
  | {
      kind: 'summary';
      status: number;
      contexts?: string[];
      apps?: Record<string, number | null>;
      enforcementLevel?: string;
    };

export interface EffectiveProtection {
  protected: boolean;
  classic: ClassicView;
  /** The enforced rulesets that have rules on this branch. */
  rulesets: { id: number; name: string; bypassActors: number | undefined }[];
  /** The app a required check must come from, where one is set (GitHub Actions is 15368). */
  checkApps: Record<string, number>;
  settings: {
    [K in EffectiveKey]: Known<
      K extends 'required-status-checks' ? string[] : K extends 'required-approving-review-count' ? number : boolean
    >;
  };
}

export const NEEDS_ADMIN = 'needs Administration: read';

export function classicView(branch: Branch, read: ClassicRead): ClassicView {
  if (read.kind === 'protection') return { kind: 'full', protection: read.protection };
  // The branch's own flag proves there is no classic protection, whatever the token may read.
  if (!branch.protected) return { kind: 'none', source: 'branch not protected (protected: false)' };
  const summary = branch.protection?.required_status_checks;
  return {
    kind: 'summary',
    status: read.status,
    contexts: summary?.contexts ?? summary?.checks?.map((check) => check.context),
    apps: Object.fromEntries((summary?.checks ?? []).map((check) => [check.context, check.app_id])),
    enforcementLevel: summary?.enforcement_level,
  };
}

const known = <T>(value: T, source: string): Known<T> => ({ known: true, value, source });
const unknown = (why = NEEDS_ADMIN): Known<never> => ({ known: false, why });

type Params = Record<string, unknown>;

// eslint-disable-next-line max-lines-per-function -- TODO(issue 19): issue-21 is splitting it
export function effectiveProtection(
  classic: ClassicView,
  rules: readonly BranchRule[],
  rulesets: ReadonlyMap<number, Ruleset | undefined>,
): EffectiveProtection {
  // Only rules of rulesets that are enforced (`active`) count; the rules endpoint lists only those, and a ruleset
  // read as anything else (evaluate, disabled) is dropped here too.
  const counted = rules.filter(
    (rule) =>
      rule.ruleset_id === undefined ||
      (rulesets.get(rule.ruleset_id)?.enforcement !== 'evaluate' &&
        rulesets.get(rule.ruleset_id)?.enforcement !== 'disabled'),
  );
  const ruleOf = (type: string) => counted.filter((rule) => rule.type === type);
  const params = (type: string): Params[] => ruleOf(type).map((rule) => rule.parameters ?? {});
  const rulesetName = (type: string) => {
    const rule = ruleOf(type)[0];
    return `ruleset ${rule?.ruleset_source ? `${rule.ruleset_source}/` : ''}${rule?.ruleset_id ?? ''}`.trim();
  };
  const pr = params('pull_request');
  const full = classic.kind === 'full' ? classic.protection : undefined;
  const reviews = full?.required_pull_request_reviews;

  /** A protective boolean (true protects): true from either source; false only when classic is known. */
  const protective = (
    fromRules: boolean,
    ruleSource: string,
    fromClassic: (p: ClassicProtection) => boolean | undefined,
  ): Known<boolean> => {
    if (fromRules) return known(true, ruleSource);
    if (classic.kind === 'none') return known(false, `${classic.source}; no ruleset rule`);
    if (full) {
      const value = fromClassic(full) ?? false;
      return known(value, 'classic protection');
    }
    return unknown();
  };
  /** A permissive boolean (false protects): `allow-force-pushes`, `allow-deletions`. */
  const permissive = (
    blockedByRules: boolean,
    ruleSource: string,
    fromClassic: (p: ClassicProtection) => boolean | undefined,
  ): Known<boolean> => {
    if (blockedByRules) return known(false, ruleSource);
    if (classic.kind === 'none') return known(true, `${classic.source}; no ruleset rule`);
    if (full) return known(fromClassic(full) ?? false, 'classic protection');
    // Classic protection exists (protected: true): it blocks force pushes and deletions unless told to allow them.
    return unknown();
  };

  const ruleChecks = params('required_status_checks').flatMap((p) =>
    ((p.required_status_checks as { context: string }[] | undefined) ?? []).map((check) => check.context),
  );
  const classicChecks =
    classic.kind === 'full'
      ? (full?.required_status_checks?.checks?.map((check) => check.context) ??
        full?.required_status_checks?.contexts ??
        [])
      : classic.kind === 'summary'
        ? classic.contexts
        : [];
  const checks: Known<string[]> =
    classicChecks === undefined
      ? unknown()
      : known(
          [...new Set([...classicChecks, ...ruleChecks])],
          [
            classic.kind === 'full'
              ? 'classic protection'
              : classic.kind === 'summary'
                ? 'branch protection summary'
                : '',
            ruleChecks.length ? rulesetName('required_status_checks') : '',
          ]
            .filter(Boolean)
            .join(' + ') || 'none configured',
        );

  const reviewCount = (): Known<number> => {
    const fromRules = Math.max(0, ...pr.map((p) => Number(p.required_approving_review_count ?? 0)));
    if (classic.kind === 'none')
      return known(fromRules, pr.length ? rulesetName('pull_request') : 'no pull request rule');
    if (full)
      return known(
        Math.max(fromRules, reviews?.required_approving_review_count ?? 0),
        pr.length ? `classic protection + ${rulesetName('pull_request')}` : 'classic protection',
      );
    return fromRules > 0
      ? known(fromRules, `${rulesetName('pull_request')} (at least; classic protection may add more)`)
      : unknown();
  };

  const usedRulesets = [
    ...new Set(counted.map((rule) => rule.ruleset_id).filter((id): id is number => id !== undefined)),
  ].map((id) => ({
    id,
    name: rulesets.get(id)?.name ?? `ruleset ${id}`,
    bypassActors: rulesets.get(id)?.bypass_actors?.length,
  }));
  const enforceAdmins = (): Known<boolean> => {
    if (classic.kind === 'none' && usedRulesets.length === 0) return known(false, 'branch not protected');
    const bypassed = usedRulesets.find((set) => (set.bypassActors ?? 0) > 0);
    if (bypassed) return known(false, `ruleset ${bypassed.name} has ${bypassed.bypassActors} bypass actor(s)`);
    if (full && !full.enforce_admins?.enabled) return known(false, 'classic protection');
    if (classic.kind === 'summary') {
      // The summary's enforcement level of required checks is `everyone` exactly when admins are included.
      if (classic.enforcementLevel === 'non_admins')
        return known(false, 'branch protection summary (enforcement_level: non_admins)');
      if (classic.enforcementLevel !== 'everyone') return unknown();
    }
    const unreadable = usedRulesets.find((set) => set.bypassActors === undefined);
    if (unreadable)
      return unknown(`bypass actors of ruleset ${unreadable.name} not readable (needs Administration: read)`);
    const sources = [
      classic.kind === 'full'
        ? 'classic protection'
        : classic.kind === 'summary'
          ? 'branch protection summary (enforcement_level: everyone)'
          : '',
      ...usedRulesets.map((set) => `ruleset ${set.name}: no bypass actors`),
    ];
    return known(true, sources.filter(Boolean).join(' + '));
  };

  const checkApps: Record<string, number> = {};
  const pinned = [
    ...Object.entries(classic.kind === 'summary' ? (classic.apps ?? {}) : {}),
    ...(full?.required_status_checks?.checks ?? []).map((check) => [check.context, check.app_id] as const),
    ...params('required_status_checks').flatMap((p) =>
      ((p.required_status_checks as { context: string; integration_id?: number }[] | undefined) ?? []).map(
        (check) => [check.context, check.integration_id ?? null] as const,
      ),
    ),
  ];
  for (const [context, app] of pinned) if (typeof app === 'number') checkApps[context] = app;
  const strict = params('required_status_checks').some((p) => p.strict_required_status_checks_policy === true);
  const any = (list: Params[], key: string) => list.some((p) => p[key] === true);
  return {
    protected: classic.kind !== 'none' || counted.length > 0,
    classic,
    rulesets: usedRulesets,
    checkApps,
    settings: {
      'required-status-checks': checks,
      strict: protective(strict, rulesetName('required_status_checks'), (p) => p.required_status_checks?.strict),
      'enforce-admins': enforceAdmins(),
      'required-approving-review-count': reviewCount(),
      'dismiss-stale-reviews': protective(
        any(pr, 'dismiss_stale_reviews_on_push'),
        rulesetName('pull_request'),
        () => reviews?.dismiss_stale_reviews,
      ),
      'require-code-owner-reviews': protective(
        any(pr, 'require_code_owner_review'),
        rulesetName('pull_request'),
        () => reviews?.require_code_owner_reviews,
      ),
      'require-linear-history': protective(
        ruleOf('required_linear_history').length > 0,
        rulesetName('required_linear_history'),
        (p) => p.required_linear_history?.enabled,
      ),
      'allow-force-pushes': permissive(
        ruleOf('non_fast_forward').length > 0,
        rulesetName('non_fast_forward'),
        (p) => p.allow_force_pushes?.enabled,
      ),
      'allow-deletions': permissive(
        ruleOf('deletion').length > 0,
        rulesetName('deletion'),
        (p) => p.allow_deletions?.enabled,
      ),
      'require-signed-commits': protective(
        ruleOf('required_signatures').length > 0,
        rulesetName('required_signatures'),
        (p) => p.required_signatures?.enabled,
      ),
      'require-conversation-resolution': protective(
        any(pr, 'required_review_thread_resolution'),
        rulesetName('pull_request'),
        (p) => p.required_conversation_resolution?.enabled,
      ),
      'require-pull-request': protective(pr.length > 0, rulesetName('pull_request'), () => reviews !== undefined),
      'require-last-push-approval': protective(
        any(pr, 'require_last_push_approval'),
        rulesetName('pull_request'),
        () => reviews?.require_last_push_approval,
      ),
    },
  };
}
