import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { team } from './environment-fixtures.js';
import { repository, user, WEB } from './fixtures.js';

/**
 * Builders for branches, classic branch protection, rulesets and workflow files. Classic protection is built on the
 * payloads @octokit/fixtures recorded from api.github.com (scenario `branch-protection`): the 404 an admin gets for an
 * unprotected branch, and the answer of a full PUT, whose shape every protection the double serves keeps.
 */
const API = 'https://api.github.example';
const require = createRequire(import.meta.url);

interface Recorded {
  method: string;
  path: string;
  status: number;
  response: Record<string, unknown>;
}
const recorded = JSON.parse(
  readFileSync(
    require.resolve('@octokit/fixtures/scenarios/api.github.com/branch-protection/normalized-fixture.json'),
    'utf8',
  ),
) as Recorded[];

/** The recorded 404 body of GET …/protection for an unprotected branch, as an admin sees it. */
export const BRANCH_NOT_PROTECTED = recorded.find((entry) => entry.method === 'get' && entry.status === 404)!.response;
/** The recorded answer to a full PUT …/protection (status checks, reviews, restrictions, admins). */
const RECORDED_PROTECTION = recorded.filter((entry) => entry.method === 'put').at(-1)!.response;

export interface ClassicSpec {
  requiredChecks?: string[];
  /** The app a required check must come from (by check name); others any (app_id null). */
  checkApps?: Record<string, number>;
  strict?: boolean;
  enforceAdmins?: boolean;
  /** Absent: pull request reviews not required. */
  reviews?: { count?: number; dismissStale?: boolean; codeOwners?: boolean; lastPush?: boolean };
  linearHistory?: boolean;
  allowForcePushes?: boolean;
  allowDeletions?: boolean;
  signatures?: boolean;
  conversationResolution?: boolean;
  /** Push restrictions (user logins); absent: none. */
  restrictUsers?: string[];
  /** Settings the audit does not model, which `apply` must keep as they are. */
  lockBranch?: boolean;
  blockCreations?: boolean;
  allowForkSyncing?: boolean;
  /** Who may dismiss reviews / bypass the pull request requirement (user logins); needs `reviews`. */
  dismissalUsers?: string[];
  bypassUsers?: string[];
  /** Team and GitHub App slugs that may bypass the pull request requirement; need `reviews`. */
  bypassTeams?: string[];
  bypassApps?: string[];
}

export interface BranchSpec {
  name: string;
  classic?: ClassicSpec;
}

export interface RulesetSpec {
  id: number;
  name: string;
  enforcement: 'active' | 'evaluate' | 'disabled';
  /** Branch names or fnmatch globs the ruleset targets (`~DEFAULT_BRANCH` is `main`). */
  include: string[];
  bypassActors?: {
    actor_id: number | null;
    actor_type: 'Integration' | 'OrganizationAdmin' | 'RepositoryRole' | 'Team' | 'DeployKey' | 'User';
    bypass_mode?: 'always' | 'pull_request' | 'exempt';
  }[];
  rules: { type: string; parameters?: Record<string, unknown> }[];
  source?: 'Repository' | 'Organization';
}

const urlsOf = (text: string, repo: string, branch: string) =>
  text.replace(
    /https:\/\/api\.github\.com\/repos\/octokit-fixture-org\/[^/]+\/branches\/main/g,
    `${API}/repos/${repo}/branches/${encodeURIComponent(branch)}`,
  );

export function classicProtection(repo: string, branch: string, spec: ClassicSpec) {
  const base = JSON.parse(urlsOf(JSON.stringify(RECORDED_PROTECTION), repo, branch)) as Record<string, unknown> & {
    required_status_checks: Record<string, unknown>;
    required_pull_request_reviews: Record<string, unknown>;
    restrictions: Record<string, unknown> & { users: unknown[] };
  };
  const body: Record<string, unknown> = { ...base };
  if (spec.requiredChecks) {
    body.required_status_checks = {
      ...base.required_status_checks,
      strict: spec.strict ?? false,
      contexts: spec.requiredChecks,
      checks: spec.requiredChecks.map((context) => ({ context, app_id: spec.checkApps?.[context] ?? null })),
      enforcement_level: spec.enforceAdmins ? 'everyone' : 'non_admins',
    };
  } else delete body.required_status_checks;
  if (spec.reviews) {
    body.required_pull_request_reviews = {
      url: base.required_pull_request_reviews.url,
      dismiss_stale_reviews: spec.reviews.dismissStale ?? false,
      require_code_owner_reviews: spec.reviews.codeOwners ?? false,
      required_approving_review_count: spec.reviews.count ?? 1,
      require_last_push_approval: spec.reviews.lastPush ?? false,
      ...(spec.dismissalUsers
        ? {
            dismissal_restrictions: {
              url: `${API}/repos/${repo}/branches/${branch}/protection/dismissal_restrictions`,
              users_url: `${API}/repos/${repo}/branches/${branch}/protection/dismissal_restrictions/users`,
              teams_url: `${API}/repos/${repo}/branches/${branch}/protection/dismissal_restrictions/teams`,
              users: spec.dismissalUsers.map((login, index) => user(login, 200 + index)),
              teams: [],
              apps: [],
            },
          }
        : {}),
      ...(spec.bypassUsers || spec.bypassTeams || spec.bypassApps
        ? {
            bypass_pull_request_allowances: {
              users: (spec.bypassUsers ?? []).map((login, index) => user(login, 300 + index)),
              teams: (spec.bypassTeams ?? []).map((slug) => team(repo.split('/')[0]!, slug)),
              apps: (spec.bypassApps ?? []).map((slug, index) => githubApp(slug, 400 + index)),
            },
          }
        : {}),
    };
  } else delete body.required_pull_request_reviews;
  if (spec.restrictUsers)
    body.restrictions = {
      ...base.restrictions,
      users: spec.restrictUsers.map((login, index) => user(login, 100 + index)),
      teams: [],
      apps: [],
    };
  else delete body.restrictions;
  const flag = (value: boolean | undefined) => ({ enabled: value ?? false });
  body.enforce_admins = {
    url: `${API}/repos/${repo}/branches/${branch}/protection/enforce_admins`,
    enabled: spec.enforceAdmins ?? false,
  };
  body.required_signatures = {
    url: `${API}/repos/${repo}/branches/${branch}/protection/required_signatures`,
    enabled: spec.signatures ?? false,
  };
  body.required_linear_history = flag(spec.linearHistory);
  body.allow_force_pushes = flag(spec.allowForcePushes);
  body.allow_deletions = flag(spec.allowDeletions);
  body.required_conversation_resolution = flag(spec.conversationResolution);
  body.lock_branch = flag(spec.lockBranch);
  body.block_creations = flag(spec.blockCreations);
  body.allow_fork_syncing = flag(spec.allowForkSyncing);
  return body;
}

const sha = (text: string) => createHash('sha1').update(text).digest('hex');

function commit(repo: string, branch: string) {
  const id = sha(`${repo}@${branch}`);
  const person = { name: 'Octo Cat', email: 'octo@example.com', date: '2026-11-23T07:00:00Z' };
  return {
    url: `${API}/repos/${repo}/commits/${id}`,
    sha: id,
    node_id: `C_${id.slice(0, 8)}`,
    html_url: `${WEB}/${repo}/commit/${id}`,
    comments_url: `${API}/repos/${repo}/commits/${id}/comments`,
    commit: {
      url: `${API}/repos/${repo}/git/commits/${id}`,
      author: person,
      committer: person,
      message: 'Build',
      comment_count: 0,
      tree: { sha: 'f'.repeat(40), url: `${API}/repos/${repo}/git/trees/${'f'.repeat(40)}` },
    },
    author: user(),
    committer: user(),
    parents: [],
  };
}

/**
 * A branch is `protected` when classic protection or an active ruleset covers it: GitHub sets the flag for
 * ruleset-only branches too, while GET …/protection answers them 404 `Branch not protected` (hub4j/github-api#2062).
 */
export function shortBranch(repo: string, spec: BranchSpec, byRuleset = false) {
  const id = sha(`${repo}@${spec.name}`);
  return {
    name: spec.name,
    commit: { sha: id, url: `${API}/repos/${repo}/commits/${id}` },
    protected: spec.classic !== undefined || byRuleset,
  };
}

/** GET …/branches/{branch}: the `protection` summary (required checks and their enforcement level) is what any reader sees. */
export function branchWithProtection(repo: string, spec: BranchSpec, byRuleset = false) {
  const classic = spec.classic;
  const checks = classic?.requiredChecks;
  return {
    name: spec.name,
    commit: commit(repo, spec.name),
    _links: {
      html: `${WEB}/${repo}/tree/${spec.name}`,
      self: `${API}/repos/${repo}/branches/${encodeURIComponent(spec.name)}`,
    },
    protected: classic !== undefined || byRuleset,
    // The summary describes classic protection only; a ruleset-only branch shows none here.
    protection: classic
      ? {
          enabled: true,
          required_status_checks: {
            enforcement_level: checks ? (classic.enforceAdmins ? 'everyone' : 'non_admins') : 'off',
            contexts: checks ?? [],
            checks: (checks ?? []).map((context) => ({ context, app_id: classic.checkApps?.[context] ?? null })),
          },
        }
      : { enabled: false, required_status_checks: { enforcement_level: 'off', contexts: [], checks: [] } },
    protection_url: `${API}/repos/${repo}/branches/${encodeURIComponent(spec.name)}/protection`,
  };
}

export function ruleset(repo: string, spec: RulesetSpec, admin: boolean) {
  return {
    id: spec.id,
    name: spec.name,
    target: 'branch',
    source_type: spec.source ?? 'Repository',
    source: spec.source === 'Organization' ? repo.split('/')[0]! : repo,
    enforcement: spec.enforcement,
    // Bypass actors are shown only to those who may edit the ruleset.
    ...(admin
      ? {
          bypass_actors: (spec.bypassActors ?? []).map((actor) => ({
            ...actor,
            bypass_mode: actor.bypass_mode ?? 'always',
          })),
        }
      : {}),
    current_user_can_bypass: 'never',
    node_id: `RRS_${spec.id}`,
    _links: {
      self: { href: `${API}/repos/${repo}/rulesets/${spec.id}` },
      html: { href: `${WEB}/${repo}/rules/${spec.id}` },
    },
    conditions: {
      ref_name: {
        include: spec.include.map((name) => (name.startsWith('~') ? name : `refs/heads/${name}`)),
        exclude: [],
      },
    },
    rules: spec.rules,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
  };
}

export function fileContent(repo: string, path: string, text: string) {
  const content = Buffer.from(text).toString('base64');
  const url = `${API}/repos/${repo}/contents/${path}`;
  return {
    type: 'file',
    encoding: 'base64',
    size: text.length,
    name: path.split('/').pop()!,
    path,
    content,
    sha: sha(text),
    url,
    git_url: `${API}/repos/${repo}/git/blobs/${sha(text)}`,
    html_url: `${WEB}/${repo}/blob/main/${path}`,
    download_url: `${WEB}/${repo}/raw/main/${path}`,
    _links: { self: url, git: `${API}/repos/${repo}/git/blobs/${sha(text)}`, html: `${WEB}/${repo}/blob/main/${path}` },
  };
}

export function orgRepository(fullName: string, id: number, archived: boolean) {
  return { ...repository(fullName, id), archived, default_branch: 'main' };
}

/** GET /apps/{app_slug}: a public GitHub App (the audit reads only its id). */
export function githubApp(slug: string, id: number) {
  return {
    id,
    slug,
    node_id: `A_${id}`,
    client_id: `Iv1.${slug}`,
    owner: user('app-owner', 9000 + id),
    name: slug,
    description: null,
    external_url: `https://${slug}.example`,
    html_url: `${WEB}/apps/${slug}`,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    permissions: { checks: 'write', statuses: 'write' },
    events: ['check_suite'],
  };
}
