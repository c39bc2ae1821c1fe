import type { EffectiveKey, EffectiveProtection } from './effective.js';

/**
 * The OpenSSF Scorecard Branch-Protection tier a branch reaches (docs/checks.md of ossf/scorecard): a tier counts
 * only when every tier below it is met.
 *   T1 (3/10): no force pushes, no deletion
 *   T2 (6/10): ≥ 1 approving review; for administrators: pull requests required, up to date before merging,
 *              approval of the most recent push
 *   T3 (8/10): ≥ 1 required status check
 *   T4 (9/10): ≥ 2 approving reviews, code owner review
 *   T5 (10/10): for administrators: stale reviews dismissed, administrators included
 * Scorecard run without an admin token treats the "for administrators" requirements as met; so does this, for
 * those it cannot read, and says so (`assumed`).
 */
export interface ScorecardTier {
  /** 0 (not even T1) to 5: the tier known to be reached. */
  tier: number;
  label: string;
  /** Admin-only requirements that were unknown and counted as met, as Scorecard does without an admin token. */
  assumed: EffectiveKey[];
}

const ADMIN_ONLY: ReadonlySet<EffectiveKey> = new Set<EffectiveKey>([
  'require-pull-request',
  'strict',
  'require-last-push-approval',
  'dismiss-stale-reviews',
  'enforce-admins',
]);

export function scorecardTier(effective: EffectiveProtection): ScorecardTier {
  const assumed: EffectiveKey[] = [];
  const blocking: EffectiveKey[] = [];
  const flag = (key: EffectiveKey, wanted: boolean) => {
    const setting = effective.settings[key];
    if (!setting.known) {
      if (ADMIN_ONLY.has(key)) assumed.push(key);
      else blocking.push(key);
      return ADMIN_ONLY.has(key);
    }
    return setting.value === wanted;
  };
  const reviews = effective.settings['required-approving-review-count'];
  const checks = effective.settings['required-status-checks'];
  const reviewsAtLeast = (n: number) => {
    if (!reviews.known) blocking.push('required-approving-review-count');
    return reviews.known && reviews.value >= n;
  };
  // Every requirement of a tier is looked at (no short cut), so all the unknown ones are named.
  const all = (...met: boolean[]) => met.every(Boolean);
  const tiers = [
    () => all(flag('allow-force-pushes', false), flag('allow-deletions', false)),
    () =>
      all(
        reviewsAtLeast(1),
        flag('require-pull-request', true),
        flag('strict', true),
        flag('require-last-push-approval', true),
      ),
    () => {
      if (!checks.known) blocking.push('required-status-checks');
      return checks.known && checks.value.length > 0;
    },
    () => all(reviewsAtLeast(2), flag('require-code-owner-reviews', true)),
    () => all(flag('dismiss-stale-reviews', true), flag('enforce-admins', true)),
  ];
  let tier = 0;
  for (const met of tiers) {
    const mark = assumed.length;
    blocking.length = 0;
    if (!met()) {
      assumed.length = mark;
      break;
    }
    tier++;
  }
  // A tier missed only for want of a setting this token cannot read: the branch may well reach it.
  const label = blocking.length
    ? `T${tier} or higher (${blocking.join(', ')} unknown)`
    : tier === 0
      ? 'T0 (below Tier 1)'
      : `T${tier}`;
  return { tier, label: assumed.length ? `${label} (assuming ${assumed.join(', ')})` : label, assumed };
}
