import type { ClassicRead } from '../github/protection-queries.js';
import type { Branch, BranchRule, ClassicProtection, Ruleset } from '../github/protection-schemas.js';
import { bypassIsAdmin, describeActor, type BypassActor } from './bypass.js';
import type { SettingKey } from './policy.js';
import { pullRequestBypass, type PullRequestBypass } from './pull-request-bypass.js';

/**
 * The protection a branch really has: classic branch protection and the rules of enforced rulesets together.
 * Every setting is either known (with where it was learned) or unknown — never guessed. Classic protection is
 * read in full only with admin rights; a 404 `Branch not protected` proves there is none (GitHub says so for a
 * branch protected by rulesets alone, whose `protected` flag is still true); otherwise the branch's `protected`
 * flag and protection summary (required checks and their enforcement level) are what is known of it. Ruleset rules
 * are readable by anyone who can read the repository; rulesets in `evaluate` mode are not enforced and do not count.
 * A ruleset's bypass actors (visible to admins only) are kept per ruleset, and for every setting the rulesets it
 * relies on (those that give it its value where classic protection does not), so bypass is judged per rule.
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

export interface RulesetInfo {
  id: number;
  name: string;
  /** Undefined: not readable with this token (only those who may edit a ruleset see its bypass list). */
  bypass: BypassActor[] | undefined;
  /** How many bypass actors (for the report); undefined when not readable. */
  bypassActors: number | undefined;
}

type Settings = {
  [K in EffectiveKey]: Known<
    K extends 'required-status-checks' ? string[] : K extends 'required-approving-review-count' ? number : boolean
  >;
};

export interface EffectiveProtection {
  protected: boolean;
  classic: ClassicView;
  /** The enforced rulesets that have rules on this branch. */
  rulesets: RulesetInfo[];
  /** The app each required check must come from; null where any source may set it (not pinned). */
  checkApps: Record<string, number | null>;
  /** Merges go through a merge queue (a `merge_queue` rule). */
  mergeQueue: boolean;
  settings: Settings;
  /** For each setting, the ids of the rulesets that give it its value where classic protection alone does not. */
  reliesOn: Partial<Record<EffectiveKey, number[]>>;
  /** Classic protection's pull request bypass allowances, and what rulesets alone still demand of such a push. */
  pullRequestBypass: PullRequestBypass;
}

export const NEEDS_ADMIN = 'needs Administration: read';

export function classicView(branch: Branch, read: ClassicRead): ClassicView {
  if (read.kind === 'protection') return { kind: 'full', protection: read.protection };
  if (read.kind === 'absent')
    return {
      kind: 'none',
      source: `GET …/protection: "Branch not protected"${branch.protected ? ' (the branch is protected by rulesets only)' : ''}`,
    };
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

/** What both sources say, for the setting builders below. */
class Sources {
  readonly full: ClassicProtection | undefined;
  readonly counted: BranchRule[];
  readonly reliesOn: Partial<Record<EffectiveKey, number[]>> = {};

  constructor(
    readonly classic: ClassicView,
    rules: readonly BranchRule[],
    readonly rulesets: ReadonlyMap<number, Ruleset | undefined>,
  ) {
    this.full = classic.kind === 'full' ? classic.protection : undefined;
    // Only rules of enforced (`active`) rulesets count; the rules endpoint lists only those, and a ruleset read as
    // anything else (evaluate, disabled) is dropped here too.
    this.counted = rules.filter((rule) => {
      const enforcement = rule.ruleset_id === undefined ? undefined : rulesets.get(rule.ruleset_id)?.enforcement;
      return enforcement !== 'evaluate' && enforcement !== 'disabled';
    });
  }

  rules(type: string): BranchRule[] {
    return this.counted.filter((rule) => rule.type === type);
  }

  params(type: string): Params[] {
    return this.rules(type).map((rule) => rule.parameters ?? {});
  }

  ids(rules: readonly BranchRule[]): number[] {
    return [...new Set(rules.map((rule) => rule.ruleset_id).filter((id): id is number => id !== undefined))];
  }

  name(rules: readonly BranchRule[]): string {
    const names = this.ids(rules).map((id) => this.rulesets.get(id)?.name ?? String(id));
    const source = rules[0]?.ruleset_source;
    return names.length ? `ruleset ${names.join(', ')}${source ? ` (${source})` : ''}` : 'ruleset';
  }

  /** A protective boolean (true protects): true from either source; false only when classic is known. */
  protective(key: EffectiveKey, rules: BranchRule[], fromClassic: (p: ClassicProtection) => boolean | undefined) {
    const byClassic = this.full ? (fromClassic(this.full) ?? false) : false;
    if (rules.length > 0) {
      if (!byClassic) this.reliesOn[key] = this.ids(rules);
      return known(true, byClassic ? `classic protection + ${this.name(rules)}` : this.name(rules));
    }
    if (this.classic.kind === 'none') return known(false, `${this.classic.source}; no ruleset rule`);
    return this.full ? known(byClassic, 'classic protection') : unknown();
  }

  /** A permissive boolean (false protects): `allow-force-pushes`, `allow-deletions`. */
  permissive(key: EffectiveKey, rules: BranchRule[], fromClassic: (p: ClassicProtection) => boolean | undefined) {
    const allowedByClassic = this.full ? (fromClassic(this.full) ?? false) : true;
    if (rules.length > 0) {
      if (allowedByClassic || !this.full) this.reliesOn[key] = this.ids(rules);
      return known(false, this.name(rules));
    }
    if (this.classic.kind === 'none') return known(true, `${this.classic.source}; no ruleset rule`);
    return this.full ? known(allowedByClassic, 'classic protection') : unknown();
  }
}

interface StatusCheckParam {
  context: string;
  integration_id?: number;
}
const checksOf = (params: Params) => (params.required_status_checks as StatusCheckParam[] | undefined) ?? [];

function requiredChecks(sources: Sources): { checks: Known<string[]>; apps: Record<string, number | null> } {
  const { classic, full } = sources;
  const rules = sources.rules('required_status_checks');
  const fromRules = rules.flatMap((rule) => checksOf(rule.parameters ?? {}).map((check) => ({ rule, check })));
  const classicChecks = full
    ? (full.required_status_checks?.checks?.map((check) => check.context) ??
      full.required_status_checks?.contexts ??
      [])
    : classic.kind === 'summary'
      ? classic.contexts
      : [];
  const apps: Record<string, number | null> = {};
  const pin = (context: string, app: number | null | undefined) => {
    // Pinned by any source is pinned: every requirement must be met, so a forged status fails the pinned one.
    apps[context] = typeof app === 'number' ? app : (apps[context] ?? null);
  };
  for (const check of full?.required_status_checks?.checks ?? []) pin(check.context, check.app_id);
  for (const context of full && !full.required_status_checks?.checks ? (classicChecks ?? []) : []) pin(context, null);
  for (const [context, app] of Object.entries(classic.kind === 'summary' ? (classic.apps ?? {}) : {}))
    pin(context, app);
  for (const { check } of fromRules) pin(check.context, check.integration_id);
  if (classicChecks === undefined) return { checks: unknown(), apps };
  const onlyRules = fromRules.filter(({ check }) => !classicChecks.includes(check.context));
  if (onlyRules.length) sources.reliesOn['required-status-checks'] = sources.ids(onlyRules.map(({ rule }) => rule));
  const where = [
    full ? 'classic protection' : classic.kind === 'summary' ? 'branch protection summary' : '',
    rules.length ? sources.name(rules) : '',
  ];
  const value = [...new Set([...classicChecks, ...fromRules.map(({ check }) => check.context)])];
  return { checks: known(value, where.filter(Boolean).join(' + ') || 'none configured'), apps };
}

function reviewCount(sources: Sources): Known<number> {
  const rules = sources.rules('pull_request');
  const count = (rule: BranchRule) => Number(rule.parameters?.required_approving_review_count ?? 0);
  const fromRules = Math.max(0, ...rules.map(count));
  const { classic, full } = sources;
  if (classic.kind === 'summary')
    return fromRules > 0 ? known(fromRules, `${sources.name(rules)} (at least; classic may add more)`) : unknown();
  const byClassic = full?.required_pull_request_reviews?.required_approving_review_count ?? 0;
  const stronger = rules.filter((rule) => count(rule) > byClassic);
  if (stronger.length) sources.reliesOn['required-approving-review-count'] = sources.ids(stronger);
  if (!full) return known(fromRules, rules.length ? sources.name(rules) : 'no pull request rule');
  return known(
    Math.max(fromRules, byClassic),
    rules.length ? `classic protection + ${sources.name(rules)}` : 'classic protection',
  );
}

/**
 * Administrators are bound when classic protection (where there is any) includes them and no ruleset the settings
 * rely on lets organisation or repository admins bypass it. Other bypass actors are judged per rule (judge.ts).
 */
function enforceAdmins(sources: Sources, rulesets: readonly RulesetInfo[]): Known<boolean> {
  const { classic, full } = sources;
  const relied = new Set(Object.values(sources.reliesOn).flat());
  if (classic.kind === 'none' && relied.size === 0) return known(false, `${classic.source}; no ruleset rule`);
  if (full && !full.enforce_admins?.enabled) return known(false, 'classic protection (enforce_admins: false)');
  if (classic.kind === 'summary' && classic.enforcementLevel === 'non_admins')
    return known(false, 'branch protection summary (enforcement_level: non_admins)');
  const used = rulesets.filter((set) => relied.has(set.id));
  for (const set of used) {
    const admin = set.bypass?.find(bypassIsAdmin);
    if (admin) return known(false, `ruleset ${set.name}: ${describeActor(admin)} may bypass it`);
  }
  if (classic.kind === 'summary' && classic.enforcementLevel !== 'everyone') return unknown();
  const unreadable = used.find((set) => set.bypass === undefined);
  if (unreadable) return unknown(`bypass actors of ruleset ${unreadable.name} not readable (${NEEDS_ADMIN})`);
  const where = [
    full
      ? 'classic protection'
      : classic.kind === 'summary'
        ? 'branch protection summary (enforcement_level: everyone)'
        : '',
    ...used.map((set) => `ruleset ${set.name}: no admin bypass`),
  ];
  return known(true, where.filter(Boolean).join(' + '));
}

function rulesetInfos(sources: Sources): RulesetInfo[] {
  return sources.ids(sources.counted).map((id) => {
    const set = sources.rulesets.get(id);
    const bypass = set?.bypass_actors?.map((actor) => ({
      type: actor.actor_type,
      id: actor.actor_id ?? null,
      mode: actor.bypass_mode ?? 'always',
    }));
    return { id, name: set?.name ?? `ruleset ${id}`, bypass, bypassActors: bypass?.length };
  });
}

export function effectiveProtection(
  classic: ClassicView,
  rules: readonly BranchRule[],
  rulesets: ReadonlyMap<number, Ruleset | undefined>,
): EffectiveProtection {
  const sources = new Sources(classic, rules, rulesets);
  const reviews = sources.full?.required_pull_request_reviews;
  const pr = sources.rules('pull_request');
  const prWith = (key: string) => pr.filter((rule) => rule.parameters?.[key] === true);
  const strictRules = sources
    .rules('required_status_checks')
    .filter((rule) => rule.parameters?.strict_required_status_checks_policy === true);
  const { checks, apps } = requiredChecks(sources);
  const infos = rulesetInfos(sources);
  const settings = {
    'required-status-checks': checks,
    strict: sources.protective('strict', strictRules, (p) => p.required_status_checks?.strict),
    'required-approving-review-count': reviewCount(sources),
    'dismiss-stale-reviews': sources.protective(
      'dismiss-stale-reviews',
      prWith('dismiss_stale_reviews_on_push'),
      () => reviews?.dismiss_stale_reviews,
    ),
    'require-code-owner-reviews': sources.protective(
      'require-code-owner-reviews',
      prWith('require_code_owner_review'),
      () => reviews?.require_code_owner_reviews,
    ),
    'require-linear-history': sources.protective(
      'require-linear-history',
      sources.rules('required_linear_history'),
      (p) => p.required_linear_history?.enabled,
    ),
    'allow-force-pushes': sources.permissive(
      'allow-force-pushes',
      sources.rules('non_fast_forward'),
      (p) => p.allow_force_pushes?.enabled,
    ),
    'allow-deletions': sources.permissive(
      'allow-deletions',
      sources.rules('deletion'),
      (p) => p.allow_deletions?.enabled,
    ),
    'require-signed-commits': sources.protective(
      'require-signed-commits',
      sources.rules('required_signatures'),
      (p) => p.required_signatures?.enabled,
    ),
    'require-conversation-resolution': sources.protective(
      'require-conversation-resolution',
      prWith('required_review_thread_resolution'),
      (p) => p.required_conversation_resolution?.enabled,
    ),
    'require-pull-request': sources.protective('require-pull-request', pr, () => reviews !== undefined),
    'require-last-push-approval': sources.protective(
      'require-last-push-approval',
      prWith('require_last_push_approval'),
      () => reviews?.require_last_push_approval,
    ),
  };
  return {
    protected: classic.kind !== 'none' || sources.counted.length > 0,
    classic,
    rulesets: infos,
    checkApps: apps,
    mergeQueue: sources.rules('merge_queue').length > 0,
    settings: { ...settings, 'enforce-admins': enforceAdmins(sources, infos) },
    reliesOn: sources.reliesOn,
    pullRequestBypass: pullRequestBypass(sources.full, sources.rules('pull_request')),
  };
}
