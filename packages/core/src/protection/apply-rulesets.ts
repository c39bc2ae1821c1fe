import type { BranchPolicy } from './policy.js';

/**
 * `apply: rulesets`: one managed repository ruleset per policy branch pattern, named `deploy-gates: <pattern>`,
 * instead of classic protection. Only the rule types the policy's settings map to are set; other rules of the
 * managed ruleset are kept as they are. Its bypass list is the policy's `allowed-bypass:` (admins dropped when the
 * policy wants `enforce-admins: true`). The changes are worked out first (the dry-run diff) and written only after.
 */
export const managedName = (pattern: string) => `deploy-gates: ${pattern}`;

export interface ManagedRuleset {
  name: string;
  target: 'branch';
  enforcement: 'active';
  conditions: { ref_name: { include: string[]; exclude: string[] } };
  bypass_actors: { actor_id: number | null; actor_type: string; bypass_mode: 'always' }[];
  rules: { type: string; parameters?: Record<string, unknown> }[];
}

const ROLE_IDS: Record<string, number> = { maintain: 2, write: 4, admin: 5 };

/** An `allowed-bypass:` entry as a ruleset bypass actor. */
function actorOf(key: string): ManagedRuleset['bypass_actors'][number] {
  const [kind = '', id = ''] = key.split(':');
  const number = ROLE_IDS[id] ?? Number(id);
  const typeOf: Record<string, string> = { role: 'RepositoryRole', team: 'Team', app: 'Integration', user: 'User' };
  if (key === 'deploy-key') return { actor_id: null, actor_type: 'DeployKey', bypass_mode: 'always' };
  if (key === 'org-admin') return { actor_id: 1, actor_type: 'OrganizationAdmin', bypass_mode: 'always' };
  return { actor_id: number, actor_type: typeOf[kind] ?? kind, bypass_mode: 'always' };
}

/** The rules the policy's settings ask for, by rule type (what the policy does not name is not among them). */
export function wantedRules(
  entry: BranchPolicy,
  pin: number | undefined,
): Map<string, Record<string, unknown> | undefined> {
  const s = entry.settings;
  const rules = new Map<string, Record<string, unknown> | undefined>();
  if (s['required-status-checks']?.length)
    rules.set('required_status_checks', {
      strict_required_status_checks_policy: s.strict ?? false,
      required_status_checks: s['required-status-checks'].map((context) =>
        pin === undefined ? { context } : { context, integration_id: pin },
      ),
    });
  const reviews = [
    'required-approving-review-count',
    'dismiss-stale-reviews',
    'require-code-owner-reviews',
    'require-conversation-resolution',
  ];
  if (reviews.some((key) => key in s))
    rules.set('pull_request', {
      required_approving_review_count: s['required-approving-review-count'] ?? 0,
      dismiss_stale_reviews_on_push: s['dismiss-stale-reviews'] ?? false,
      require_code_owner_review: s['require-code-owner-reviews'] ?? false,
      require_last_push_approval: false,
      required_review_thread_resolution: s['require-conversation-resolution'] ?? false,
    });
  if (s['require-linear-history']) rules.set('required_linear_history', undefined);
  if (s['allow-force-pushes'] === false) rules.set('non_fast_forward', undefined);
  if (s['allow-deletions'] === false) rules.set('deletion', undefined);
  if (s['require-signed-commits']) rules.set('required_signatures', undefined);
  return rules;
}

export interface ExistingRuleset {
  id: number;
  rules?: { type: string; parameters?: Record<string, unknown> }[];
  bypass_actors?: { actor_id?: number | null; actor_type: string; bypass_mode?: string }[];
}

/** The body to write and the diff (`+ added`, `~ changed`) against the managed ruleset there now (if any). */
export function plannedRuleset(
  entry: BranchPolicy,
  existing: ExistingRuleset | undefined,
  pin: number | undefined,
): { body: ManagedRuleset; diff: string[] } {
  const wanted = wantedRules(entry, pin);
  const kept = (existing?.rules ?? []).filter((rule) => !wanted.has(rule.type));
  const rules = [...kept, ...[...wanted].map(([type, parameters]) => (parameters ? { type, parameters } : { type }))];
  const adminsBound = entry.settings['enforce-admins'] === true;
  const bypass = entry.allowedBypass
    .filter((key) => !(adminsBound && (key === 'org-admin' || key === 'role:admin')))
    .map(actorOf);
  const body: ManagedRuleset = {
    name: managedName(entry.pattern),
    target: 'branch',
    enforcement: 'active',
    conditions: { ref_name: { include: [`refs/heads/${entry.pattern}`], exclude: [] } },
    bypass_actors: bypass,
    rules,
  };
  const diff: string[] = existing ? [] : [`+ ruleset ${body.name} (targets refs/heads/${entry.pattern})`];
  for (const [type, parameters] of wanted) {
    const now = existing?.rules?.find((rule) => rule.type === type);
    if (!now) diff.push(`+ ${type}${parameters ? ` ${JSON.stringify(parameters)}` : ''}`);
    else if (JSON.stringify(now.parameters ?? {}) !== JSON.stringify(parameters ?? {}))
      diff.push(`~ ${type}: ${JSON.stringify(now.parameters ?? {})} → ${JSON.stringify(parameters ?? {})}`);
  }
  const before = (existing?.bypass_actors ?? []).map((actor) => `${actor.actor_type}:${actor.actor_id ?? ''}`).sort();
  const after = bypass.map((actor) => `${actor.actor_type}:${actor.actor_id ?? ''}`).sort();
  if (existing && before.join() !== after.join())
    diff.push(`~ bypass_actors: [${before.join(', ')}] → [${after.join(', ')}]`);
  return { body, diff };
}
