import { actorKey, bypassIsAdmin, describeActor } from './bypass.js';
import { NEEDS_ADMIN } from './effective.js';
import type { BranchContext, Finding } from './finding.js';
import type { SettingKey } from './policy.js';

/**
 * Bypass judged per rule: an actor on the bypass list of a ruleset that a setting the policy asks for relies on
 * (classic protection does not also give it) can get past that setting. Organisation and repository admins are
 * judged by `enforce-admins` (effective.ts); every other actor is a finding at the branch's severity naming the
 * actor, its bypass mode and the settings it gets past — unless the policy lists it under `allowed-bypass:`.
 */
export function bypassFindings(ctx: BranchContext): Finding[] {
  const keysOf = new Map<number, SettingKey[]>();
  for (const key of Object.keys(ctx.policy.settings) as SettingKey[])
    for (const id of ctx.effective.reliesOn[key] ?? []) keysOf.set(id, [...(keysOf.get(id) ?? []), key]);
  const base = {
    repository: ctx.repository,
    branch: ctx.branch,
    severity: ctx.policy.severity,
    rule: 'bypass' as const,
  };
  const location = { path: ctx.policyPath, line: ctx.policy.lines['allowed-bypass'] ?? ctx.policy.line };
  const rulesPage = `${ctx.links.web.replace(/\/+$/, '')}/${ctx.repository}/settings/rules`;
  const findings: Finding[] = [];
  for (const set of ctx.effective.rulesets) {
    const keys = keysOf.get(set.id);
    if (!keys) continue;
    if (set.bypass === undefined) {
      findings.push({
        ...base,
        subject: `ruleset ${set.name}`,
        status: 'unknown',
        wanted: `no one bypasses ruleset ${set.name} (${keys.join(', ')})`,
        actual: `unknown (bypass actors of ruleset ${set.name} are shown only to those who may edit it; ${NEEDS_ADMIN})`,
        source: `GET /repos/${ctx.repository}/rulesets/${set.id}`,
        fix: 'run with a token that has Administration: read to see the bypass list',
        location,
      });
      continue;
    }
    for (const actor of set.bypass.filter((candidate) => !bypassIsAdmin(candidate))) {
      const key = actorKey(actor);
      const accepted = ctx.policy.allowedBypass.includes(key);
      findings.push({
        ...base,
        subject: `${set.name} ${key}`,
        status: accepted ? 'ok' : 'violation',
        wanted: accepted ? `${key} may bypass (allowed-bypass)` : `no one bypasses ${keys.join(', ')}`,
        actual: `${describeActor(actor)} may bypass ruleset ${set.name}, which alone gives ${keys.join(', ')}`,
        source: `GET /repos/${ctx.repository}/rulesets/${set.id} (bypass_actors)`,
        fix: accepted
          ? ''
          : `remove ${key} from the bypass list of ruleset ${set.name} at ${rulesPage}/${set.id}, or accept it with allowed-bypass: [${key}] in the policy`,
        location,
      });
    }
  }
  return findings;
}
