import { createHash } from 'node:crypto';
import { user, WEB } from './fixtures.js';

/**
 * Deployment environments as GitHub answers them (GET …/environments/{name} and its deployment branch policies):
 * the built-in protection rules (`required_reviewers` with `prevent_self_review`, `wait_timer`, `branch_policy`),
 * `deployment_branch_policy` (null: any branch), and `can_admins_bypass`, which GitHub returns although its REST
 * description does not list it yet (google/go-github#2722). A missing environment is a 404 `Not Found`: GitHub
 * creates it, unprotected, the first time a job names it.
 */
const API = 'https://api.github.example';

export interface EnvironmentSpec {
  name: string;
  /** Required reviewers: `user:<login>` or `team:<slug>`. */
  reviewers?: string[];
  preventSelfReview?: boolean;
  /** Minutes; absent: no wait timer rule. */
  waitTimer?: number;
  /** `protected` (protected branches only), a list of name patterns (custom policies), or absent (any branch). */
  branches?: 'protected' | string[];
  /** Tag name patterns (custom policies of `type: tag`, "Selected branches and tags"); implies custom policies. */
  tags?: string[];
  /** Default true, as on GitHub. */
  canAdminsBypass?: boolean;
}

const id = (text: string) => Number.parseInt(createHash('sha1').update(text).digest('hex').slice(0, 7), 16);

/** A team as GitHub lists it (the `team` schema), its id derived from the slug. */
export function team(org: string, slug: string) {
  const teamId = id(`team ${slug}`);
  return {
    id: teamId,
    node_id: `T_${teamId}`,
    url: `${API}/teams/${teamId}`,
    html_url: `${WEB}/orgs/${org}/teams/${slug}`,
    name: slug,
    slug,
    description: null,
    privacy: 'closed',
    notification_setting: 'notifications_enabled',
    permission: 'push',
    members_url: `${API}/teams/${teamId}/members{/member}`,
    repositories_url: `${API}/teams/${teamId}/repos`,
    parent: null,
    type: 'organization',
  };
}

function reviewer(repo: string, entry: string) {
  const [kind, name = ''] = entry.split(':');
  return kind === 'team'
    ? { type: 'Team', reviewer: team(repo.split('/')[0]!, name) }
    : { type: 'User', reviewer: user(name, id(`user ${name}`)) };
}

export function environment(repo: string, spec: EnvironmentSpec) {
  const envId = id(`${repo} ${spec.name}`);
  const rule = (type: string, extra: Record<string, unknown> = {}) => ({
    id: id(`${repo} ${spec.name} ${type}`),
    node_id: `GA_${type}`,
    type,
    ...extra,
  });
  const rules = [
    ...(spec.waitTimer !== undefined ? [rule('wait_timer', { wait_timer: spec.waitTimer })] : []),
    ...(spec.reviewers?.length
      ? [
          rule('required_reviewers', {
            prevent_self_review: spec.preventSelfReview ?? false,
            reviewers: spec.reviewers.map((entry) => reviewer(repo, entry)),
          }),
        ]
      : []),
    ...(spec.branches !== undefined || spec.tags?.length ? [rule('branch_policy')] : []),
  ];
  return {
    id: envId,
    node_id: `EN_${envId}`,
    name: spec.name,
    url: `${API}/repos/${repo}/environments/${encodeURIComponent(spec.name)}`,
    html_url: `${WEB}/${repo}/deployments/activity_log?environments_filter=${encodeURIComponent(spec.name)}`,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    can_admins_bypass: spec.canAdminsBypass ?? true,
    protection_rules: rules,
    deployment_branch_policy:
      spec.branches === 'protected'
        ? { protected_branches: true, custom_branch_policies: false }
        : Array.isArray(spec.branches) || spec.tags?.length
          ? { protected_branches: false, custom_branch_policies: true }
          : null,
  };
}

/** The custom deployment policies, branch patterns first, then tag patterns (`type` says which). */
export function deploymentBranchPolicies(repo: string, spec: EnvironmentSpec) {
  const policy = (name: string, type: 'branch' | 'tag') => ({
    id: id(`${repo} ${spec.name} ${type === 'tag' ? 'tag ' : ''}policy ${name}`),
    node_id: `GBP_${type === 'tag' ? 'tag_' : ''}${name}`,
    name,
    type,
  });
  return [
    ...(Array.isArray(spec.branches) ? spec.branches : []).map((name) => policy(name, 'branch')),
    ...(spec.tags ?? []).map((name) => policy(name, 'tag')),
  ];
}
