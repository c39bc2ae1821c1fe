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
  /** 0 (not even T1) to 5. */
  tier: number;
  label: string;
  /** Admin-only requirements that were unknown and counted as met, as Scorecard does without an admin token. */
  assumed: EffectiveKey[];
}

const ADMIN_ONLY: ReadonlySet<EffectiveKey> = new Set<EffectiveKey>(['require-pull-request', 'strict', 'require-last-push-approval', 'dismiss-stale-reviews', 'enforce-admins']);

export function scorecardTier(effective: EffectiveProtection): ScorecardTier {
  const assumed: EffectiveKey[] = [];
  const flag = (key: EffectiveKey, wanted: boolean) => {
    const setting = effective.settings[key];
    if (!setting.known) {
      if (ADMIN_ONLY.has(key)) assumed.push(key);
      return ADMIN_ONLY.has(key);
    }
    return setting.value === wanted;
  };
  const reviews = effective.settings['required-approving-review-count'];
  const checks = effective.settings['required-status-checks'];
  const reviewsAtLeast = (n: number) => reviews.known && reviews.value >= n;
  const tiers = [
    () => flag('allow-force-pushes', false) && flag('allow-deletions', false),
    () => reviewsAtLeast(1) && flag('require-pull-request', true) && flag('strict', true) && flag('require-last-push-approval', true),
    () => checks.known && checks.value.length > 0,
    () => reviewsAtLeast(2) && flag('require-code-owner-reviews', true),
    () => flag('dismiss-stale-reviews', true) && flag('enforce-admins', true),
  ];
  let tier = 0;
  for (const met of tiers) {
    const mark = assumed.length;
    if (!met()) {
      assumed.length = mark;
      break;
    }
    tier++;
  }
  const label = tier === 0 ? 'T0 (below Tier 1)' : `T${tier}`;
  return { tier, label: assumed.length ? `${label} (assuming ${assumed.join(', ')})` : label, assumed };
}
