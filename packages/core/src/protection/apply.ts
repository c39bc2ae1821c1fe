import type { ClassicProtectionUpdate } from '../github/protection-queries.js';
import type { ClassicProtection } from '../github/protection-schemas.js';
import { GITHUB_ACTIONS_APP_ID } from './bypass.js';
import type { EffectiveProtection } from './effective.js';
import type { Settings } from './policy.js';

/**
 * The classic protection `apply` writes. PUT …/protection replaces the whole configuration, so the body is the
 * protection read just before with only the policy's settings laid over it: push restrictions, review-dismissal
 * restrictions, pull request bypass allowances, `lock_branch`, `block_creations`, `allow_fork_syncing` and the app
 * each required check is pinned to are written back as they were. Checks go as `checks` (with app ids), never the
 * deprecated `contexts` alone, which would let GitHub re-pick or drop the pins.
 */
type Actors = { users?: { login: string }[]; teams?: { slug: string }[]; apps?: { slug?: string }[] } | undefined;

const slugs = (actors: Actors) => ({
  users: (actors?.users ?? []).map((user) => user.login),
  teams: (actors?.teams ?? []).map((team) => team.slug),
  apps: (actors?.apps ?? []).map((app) => app.slug ?? '').filter(Boolean),
});

/** The app id a newly required check is pinned to: the policy's app, else left to GitHub (the app that last reported it). */
export type CheckPin = number | undefined;

function statusChecks(current: ClassicProtection | undefined, wanted: Settings, pin: CheckPin) {
  const checks = current?.required_status_checks;
  const existing = new Map<string, number | null | undefined>(
    checks?.checks?.map((check) => [check.context, check.app_id]) ??
      (checks?.contexts ?? []).map((context) => [context, null]),
  );
  for (const context of wanted['required-status-checks'] ?? []) {
    if (pin !== undefined) existing.set(context, pin);
    else if (!existing.has(context)) existing.set(context, undefined);
  }
  if (existing.size === 0 && wanted.strict === undefined && !checks) return null;
  const list = [...existing].map(([context, app]) =>
    // null (any source, as it was) is written as -1, GitHub's "any app"; undefined lets GitHub pick the reporting app.
    app === undefined ? { context } : { context, app_id: app ?? -1 },
  );
  return { strict: wanted.strict ?? checks?.strict ?? false, contexts: [...existing.keys()], checks: list };
}

function reviews(current: ClassicProtection | undefined, wanted: Settings) {
  const now = current?.required_pull_request_reviews;
  const asked = ['required-approving-review-count', 'dismiss-stale-reviews', 'require-code-owner-reviews'].some(
    (key) => key in wanted,
  );
  if (!now && !asked) return null;
  return {
    dismiss_stale_reviews: wanted['dismiss-stale-reviews'] ?? now?.dismiss_stale_reviews ?? false,
    require_code_owner_reviews: wanted['require-code-owner-reviews'] ?? now?.require_code_owner_reviews ?? false,
    required_approving_review_count:
      wanted['required-approving-review-count'] ?? now?.required_approving_review_count ?? 1,
    require_last_push_approval: now?.require_last_push_approval ?? false,
    ...(now?.dismissal_restrictions ? { dismissal_restrictions: slugs(now.dismissal_restrictions) } : {}),
    ...(now?.bypass_pull_request_allowances
      ? { bypass_pull_request_allowances: slugs(now.bypass_pull_request_allowances) }
      : {}),
  };
}

/** The classic protection body: what is there now, with the policy's settings laid over it. */
export function protectionUpdate(
  current: ClassicProtection | undefined,
  wanted: Settings,
  pin: CheckPin = undefined,
): ClassicProtectionUpdate {
  const flag = (value: boolean | undefined, now: { enabled?: boolean } | undefined) => value ?? now?.enabled ?? false;
  return {
    required_status_checks: statusChecks(current, wanted, pin),
    enforce_admins: flag(wanted['enforce-admins'], current?.enforce_admins),
    required_pull_request_reviews: reviews(current, wanted),
    restrictions: current?.restrictions ? slugs(current.restrictions) : null,
    required_linear_history: flag(wanted['require-linear-history'], current?.required_linear_history),
    allow_force_pushes: flag(wanted['allow-force-pushes'], current?.allow_force_pushes),
    allow_deletions: flag(wanted['allow-deletions'], current?.allow_deletions),
    block_creations: flag(undefined, current?.block_creations),
    required_conversation_resolution: flag(
      wanted['require-conversation-resolution'],
      current?.required_conversation_resolution,
    ),
    lock_branch: flag(undefined, current?.lock_branch),
    allow_fork_syncing: flag(undefined, current?.allow_fork_syncing),
  };
}

const shown = (value: unknown) => (Array.isArray(value) ? `[${value.join(', ')}]` : String(value));

/** `setting: before → after` for every policy setting the write changes, worked out before anything is written. */
export function plannedChanges(
  before: EffectiveProtection['settings'],
  wanted: Settings,
  body: ClassicProtectionUpdate,
): string[] {
  const changes: string[] = [];
  for (const [key, value] of Object.entries(wanted) as [keyof Settings, unknown][]) {
    const was = before[key];
    const after = key === 'required-status-checks' ? body.required_status_checks?.contexts : value;
    if (!was.known || shown(was.value) !== shown(after))
      changes.push(`${key}: ${was.known ? shown(was.value) : 'unknown'} → ${shown(after)}`);
  }
  return changes;
}

/** The app id the policy's `app:` pins new checks to (`any` and unset leave the choice to GitHub). */
export function pinOf(app: string | undefined, apps: ReadonlyMap<string, number | undefined>): CheckPin {
  if (app === undefined || app === 'any') return undefined;
  return app === 'github-actions' ? GITHUB_ACTIONS_APP_ID : apps.get(app);
}
