import type { Environment } from '../github/protection-schemas.js';
import { show, type Finding, type Links } from './finding.js';
import type { EnvironmentKey, EnvironmentPolicy, EnvironmentSettings } from './policy.js';

/**
 * The approval gate itself: a deployment environment against the policy. GitHub creates an environment the first
 * time a job names it, with no protection at all, so a missing one (or a typo in `environment:`) is a finding at
 * the environment's severity. Required reviewers (users or teams configured), self-review prevented, the
 * branches that may deploy (protected ones, given patterns, or any), admins unable to bypass, a minimum wait timer.
 */
export interface EnvironmentRead {
  environment: Environment;
  /** The custom branch patterns, when the environment uses them. */
  patterns: string[] | undefined;
  /** The custom tag patterns (`type: tag` policies): a run on any tag matching one may deploy. */
  tags?: string[];
}

type Actual = { value: unknown; ok: boolean; source: string; fix?: string } | { unknown: string };

function actualOf(key: EnvironmentKey, wanted: unknown, read: EnvironmentRead): Actual {
  const rules = read.environment.protection_rules ?? [];
  const reviewers = rules.find((rule) => rule.type === 'required_reviewers');
  const source = 'GET …/environments/{name} protection_rules';
  switch (key) {
    case 'required-reviewers': {
      const count = reviewers?.reviewers?.length ?? 0;
      return { value: `${count} reviewer(s)`, ok: count >= (wanted as number), source };
    }
    case 'prevent-self-review': {
      const value = reviewers?.prevent_self_review ?? false;
      return { value, ok: value === wanted, source };
    }
    case 'wait-timer': {
      const value = rules.find((rule) => rule.type === 'wait_timer')?.wait_timer ?? 0;
      return { value: `${value} min`, ok: value >= (wanted as number), source };
    }
    case 'can-admins-bypass': {
      const value = read.environment.can_admins_bypass;
      if (value === undefined) return { unknown: 'GitHub did not return can_admins_bypass' };
      return { value, ok: value === wanted, source: 'GET …/environments/{name} can_admins_bypass' };
    }
    case 'deployment-branches':
      return branchesActual(wanted as NonNullable<EnvironmentSettings['deployment-branches']>, read);
  }
}

/**
 * The branches (and tags) that may deploy. A tag policy is covered only by `any` or by a `tag:<pattern>` entry of
 * the wanted list: anyone with write access can push a tag to any commit, and branch protection does not cover tags,
 * so `deployment-branches: [main]` with a tag policy `*` would let any commit deploy.
 */
function branchesActual(wanted: 'protected' | 'any' | string[], read: EnvironmentRead): Actual {
  const policy = read.environment.deployment_branch_policy;
  const source = 'GET …/environments/{name} deployment_branch_policy';
  if (!policy) return { value: 'any branch', ok: wanted === 'any', source };
  if (policy.protected_branches)
    return { value: 'protected branches', ok: wanted === 'protected' || wanted === 'any', source };
  const patterns = read.patterns ?? [];
  const tags = read.tags ?? [];
  const list = Array.isArray(wanted) ? wanted : [];
  const extraTags = wanted === 'any' ? [] : tags.filter((tag) => !list.includes(`tag:${tag}`));
  const ok = wanted === 'any' || (Array.isArray(wanted) && patterns.every((pattern) => wanted.includes(pattern)));
  const branchText = `branches matching ${patterns.join(', ') || 'none'}`;
  return {
    value: tags.length
      ? `${branchText}; tags matching ${tags.join(', ')}${extraTags.length ? ` (tag policies not in the policy: ${extraTags.join(', ')} — any run on such a tag may deploy)` : ''}`
      : branchText,
    ok: ok && extraTags.length === 0,
    source: `${source} + deployment-branch-policies`,
    ...(extraTags.length
      ? {
          fix: `remove the tag deployment polic${extraTags.length === 1 ? 'y' : 'ies'} ${extraTags.join(', ')} (or, if tags should deploy, list each as tag:<pattern> in deployment-branches)`,
        }
      : {}),
  };
}

export function judgeEnvironment(
  repository: string,
  policy: EnvironmentPolicy,
  policyPath: string,
  read: EnvironmentRead | undefined,
  links: Links,
): Finding[] {
  const base = { repository, branch: `environment ${policy.name}`, severity: policy.severity };
  const page = `${links.web.replace(/\/+$/, '')}/${repository}/settings/environments`;
  if (!read)
    return [
      {
        ...base,
        rule: 'environment-missing',
        status: 'violation',
        wanted: `environment ${policy.name} with its protection rules`,
        actual: 'no such environment: GitHub would create it unprotected on first use (no reviewers, any branch)',
        source: `GET /repos/${repository}/environments/${policy.name}: 404`,
        fix: `create it at ${page} with the protection rules the policy asks for, and check the spelling of environment: in the workflows`,
        location: { path: policyPath, line: policy.line },
      },
    ];
  return (Object.entries(policy.settings) as [EnvironmentKey, unknown][]).map(([key, wanted]) => {
    const actual = actualOf(key, wanted, read);
    const location = { path: policyPath, line: policy.lines[key] ?? policy.line };
    const common = { ...base, rule: `environment-${key}` as const, wanted: show(wanted), location };
    if ('unknown' in actual)
      return {
        ...common,
        status: 'unknown' as const,
        actual: `unknown (${actual.unknown})`,
        source: actual.unknown,
        fix: '',
      };
    return {
      ...common,
      status: actual.ok ? ('ok' as const) : ('violation' as const),
      actual: show(actual.value),
      source: actual.source,
      fix: actual.ok ? '' : `${page}/${read.environment.name}: ${actual.fix ?? `set ${key} to ${show(wanted)}`}`,
    };
  });
}
