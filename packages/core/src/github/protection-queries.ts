import { z } from 'zod';
import type { GitHubClient } from './client.js';
import { explained, githubMessage, isRequestError, type RequestPurpose } from './errors.js';
import type { CachedResponse } from './protection-etag-cache.js';
import {
  branchRuleSchema,
  branchSchema,
  classicProtectionSchema,
  deploymentBranchPoliciesSchema,
  environmentSchema,
  type Environment,
  fileContentSchema,
  orgRepositorySchema,
  rulesetSchema,
  shortBranchSchema,
  type Branch,
  type BranchRule,
  type ClassicProtection,
  type OrgRepository,
  type Ruleset,
  type ShortBranch,
} from './protection-schemas.js';
import { checked, PER_PAGE, read, readPages, type RepoRef } from './queries.js';

/**
 * Reads (and, for `apply`, writes) of branch protection: what any reader can see (the branch's `protected` flag and
 * protection summary, the rules of active rulesets), what only an administrator can (classic protection, a
 * ruleset's bypass actors), the workflows whose jobs report checks, and the repositories of an organisation.
 */

const fullName = (repo: RepoRef) => `${repo.owner}/${repo.repo}`;
const at = (repo: RepoRef) => ({ owner: repo.owner, repo: repo.repo });

/** Pages of 100 until a short page or `maxPages` (these lists have no total count). */
async function readList<T>(
  client: GitHubClient,
  purpose: RequestPurpose,
  route: string,
  params: Record<string, unknown>,
  item: z.ZodType<T>,
  maxPages: number,
): Promise<T[]> {
  const items: T[] = [];
  for (let page = 1; page <= maxPages; page++) {
    const list = await read(client, purpose, route, { ...params, per_page: PER_PAGE, page }, z.array(item));
    items.push(...list);
    if (list.length < PER_PAGE) break;
  }
  return items;
}

/** Every branch of a repository with its `protected` flag (up to 5,000). */
export function listBranches(client: GitHubClient, repo: RepoRef): Promise<ShortBranch[]> {
  const purpose: RequestPurpose = {
    what: `branches of ${fullName(repo)}`,
    permission: 'contents: read',
    notFound: `Repository ${fullName(repo)} not found`,
  };
  return readList(client, purpose, 'GET /repos/{owner}/{repo}/branches', at(repo), shortBranchSchema(), 50);
}

export function getBranch(client: GitHubClient, repo: RepoRef, branch: string): Promise<Branch> {
  const purpose: RequestPurpose = { what: `branch ${branch} of ${fullName(repo)}`, permission: 'contents: read' };
  return read(client, purpose, 'GET /repos/{owner}/{repo}/branches/{branch}', { ...at(repo), branch }, branchSchema());
}

/**
 * A branch looked up by its exact name (not searched for in the capped branch list), or undefined when GitHub
 * answers 404 `Branch not found`. Any other 404 (`Not Found`: no such repository, or one the token cannot see)
 * proves nothing about the branch and fails like any other error.
 */
export async function findBranch(client: GitHubClient, repo: RepoRef, branch: string): Promise<Branch | undefined> {
  const purpose: RequestPurpose = {
    what: `branch ${branch} of ${fullName(repo)}`,
    permission: 'contents: read',
    notFound: `Repository ${fullName(repo)} not found`,
  };
  try {
    const response = await client.request('GET /repos/{owner}/{repo}/branches/{branch}', { ...at(repo), branch });
    return checked(branchSchema(), response.data, purpose.what, `GET ${response.url}`);
  } catch (error) {
    if (isRequestError(error) && error.status === 404 && /^branch not found$/i.test(githubMessage(error).trim()))
      return undefined;
    return explained(purpose, () => Promise.reject(error));
  }
}

/** The rules of active rulesets that apply to a branch (readable with metadata: read; evaluate-mode rulesets are not listed). */
export function getBranchRules(client: GitHubClient, repo: RepoRef, branch: string): Promise<BranchRule[]> {
  const purpose: RequestPurpose = {
    what: `ruleset rules of branch ${branch} in ${fullName(repo)}`,
    permission: 'metadata: read',
  };
  return readList(
    client,
    purpose,
    'GET /repos/{owner}/{repo}/rules/branches/{branch}',
    { ...at(repo), branch },
    branchRuleSchema(),
    10,
  );
}

export function getRuleset(client: GitHubClient, repo: RepoRef, id: number): Promise<Ruleset> {
  const purpose: RequestPurpose = { what: `ruleset ${id} of ${fullName(repo)}`, permission: 'metadata: read' };
  return read(
    client,
    purpose,
    'GET /repos/{owner}/{repo}/rulesets/{ruleset_id}',
    { ...at(repo), ruleset_id: id, includes_parents: true },
    rulesetSchema(),
  );
}

/** Classic protection as read, or why it could not be read. */
export type ClassicRead =
  | { kind: 'protection'; protection: ClassicProtection }
  /**
   * 404 `Branch not protected`: GitHub answers so only to a token that could read classic protection, and also for
   * a branch protected by rulesets alone (whose `protected` flag is true). Proof that there is no classic protection.
   */
  | { kind: 'absent'; message: string }
  /**
   * 403 (a GitHub App or workflow token without Administration) or 404 (a token without admin rights, and also an
   * unprotected branch): by itself this proves nothing; the branch's `protected` flag may.
   */
  | { kind: 'unreadable'; status: number; message: string };

export async function getClassicProtection(client: GitHubClient, repo: RepoRef, branch: string): Promise<ClassicRead> {
  const purpose: RequestPurpose = {
    what: `branch protection of ${branch} in ${fullName(repo)}`,
    permission: 'administration: read',
  };
  try {
    const response = await client.request('GET /repos/{owner}/{repo}/branches/{branch}/protection', {
      ...at(repo),
      branch,
    });
    return {
      kind: 'protection',
      protection: checked(classicProtectionSchema(), response.data, purpose.what, `GET ${response.url}`),
    };
  } catch (error) {
    if (isRequestError(error) && (error.status === 403 || error.status === 404)) {
      const message = githubMessage(error);
      const limited = String(error.response?.headers?.['x-ratelimit-remaining']) === '0' || /rate limit/i.test(message);
      if (error.status === 404 && /^branch not protected$/i.test(message.trim())) return { kind: 'absent', message };
      if (!limited) return { kind: 'unreadable', status: error.status, message };
    }
    return explained(purpose, () => Promise.reject(error));
  }
}

/** What an environment lets deploy when it uses custom deployment policies: branch and tag name patterns. */
export interface DeploymentPatterns {
  branches: string[];
  tags: string[];
}

/**
 * A deployment environment with its protection rules and, when it limits deployments to custom name patterns,
 * those patterns (branch and tag policies apart: a tag policy lets a run on any matching tag deploy);
 * undefined when the repository has no such environment (404: GitHub would create it on first use).
 */
export async function getEnvironment(
  client: GitHubClient,
  repo: RepoRef,
  name: string,
): Promise<{ environment: Environment; patterns: string[] | undefined; tags: string[] } | undefined> {
  const purpose: RequestPurpose = {
    what: `environment ${name} of ${fullName(repo)}`,
    permission: 'actions: read',
  };
  const params = { ...at(repo), environment_name: name };
  let environment: Environment;
  try {
    environment = await read(
      client,
      purpose,
      'GET /repos/{owner}/{repo}/environments/{environment_name}',
      params,
      environmentSchema(),
    );
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined;
    throw error;
  }
  if (!environment.deployment_branch_policy?.custom_branch_policies)
    return { environment, patterns: undefined, tags: [] };
  const { branches, tags } = await listDeploymentPolicies(client, repo, name, purpose);
  return { environment, patterns: branches, tags };
}

/** Every custom deployment policy of an environment, paged until `total_count` (an environment may have hundreds). */
async function listDeploymentPolicies(
  client: GitHubClient,
  repo: RepoRef,
  name: string,
  purpose: RequestPurpose,
): Promise<DeploymentPatterns> {
  const { items } = await readPages(
    client,
    { ...purpose, what: `deployment branch policies of environment ${name} in ${fullName(repo)}` },
    'GET /repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies',
    { ...at(repo), environment_name: name },
    {
      schema: deploymentBranchPoliciesSchema(),
      items: (page) => page.branch_policies,
      total: (page) => page.total_count,
      maxPages: 50,
    },
  );
  const named = (type: 'branch' | 'tag') =>
    items
      // A policy without `type` predates tag policies: it is a branch policy.
      .filter((policy) => (policy.type ?? 'branch') === type)
      .map((policy) => policy.name ?? '')
      .filter(Boolean);
  return { branches: named('branch'), tags: named('tag') };
}

/** The non-archived repositories of an organisation (up to 10,000). */
export async function listOrgRepositories(client: GitHubClient, org: string): Promise<OrgRepository[]> {
  const purpose: RequestPurpose = {
    what: `repositories of organisation ${org}`,
    permission: 'metadata: read',
    notFound: `Organisation ${org} not found`,
  };
  const all = await readList(
    client,
    purpose,
    'GET /orgs/{org}/repos',
    { org, type: 'all' },
    orgRepositorySchema(),
    100,
  );
  return all.filter((repo) => !repo.archived);
}

/** A text file of the repository at `ref` (a workflow file), or undefined when it is not there. */
export async function getFileText(
  client: GitHubClient,
  repo: RepoRef,
  path: string,
  ref?: string,
): Promise<string | undefined> {
  const purpose: RequestPurpose = { what: `file ${path} of ${fullName(repo)}`, permission: 'contents: read' };
  try {
    const file = await read(
      client,
      purpose,
      'GET /repos/{owner}/{repo}/contents/{path}',
      { ...at(repo), path, ...(ref ? { ref } : {}) },
      fileContentSchema(),
    );
    return file.encoding === 'base64' ? Buffer.from(file.content, 'base64').toString('utf8') : file.content;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined;
    throw error;
  }
}

/** The body of PUT …/branches/{branch}/protection: it replaces the whole configuration, so it carries all of it. */
export interface ClassicProtectionUpdate {
  /** `contexts` is required by the description but deprecated: `checks` (with app ids) is what GitHub keeps. */
  required_status_checks: {
    strict: boolean;
    contexts: string[];
    checks: { context: string; app_id?: number }[];
  } | null;
  enforce_admins: boolean | null;
  required_pull_request_reviews: {
    dismiss_stale_reviews?: boolean;
    require_code_owner_reviews?: boolean;
    required_approving_review_count?: number;
    require_last_push_approval?: boolean;
    dismissal_restrictions?: { users: string[]; teams: string[]; apps: string[] };
    bypass_pull_request_allowances?: { users: string[]; teams: string[]; apps: string[] };
  } | null;
  /** Who may push (user logins, team and app slugs). */
  restrictions: { users: string[]; teams: string[]; apps?: string[] } | null;
  required_linear_history?: boolean;
  allow_force_pushes?: boolean;
  allow_deletions?: boolean;
  block_creations?: boolean;
  required_conversation_resolution?: boolean;
  lock_branch?: boolean;
  allow_fork_syncing?: boolean;
}

/** The repository's own rulesets (not its organisation's), by id and name. */
export function listRulesets(client: GitHubClient, repo: RepoRef): Promise<{ id: number; name: string }[]> {
  const purpose: RequestPurpose = { what: `rulesets of ${fullName(repo)}`, permission: 'administration: read' };
  return readList(
    client,
    purpose,
    'GET /repos/{owner}/{repo}/rulesets',
    { ...at(repo), includes_parents: false },
    z.object({ id: z.number().int(), name: z.string() }),
    10,
  );
}

/** Creates (no id) or replaces a repository ruleset; returns its id. */
export async function writeRuleset(
  client: GitHubClient,
  repo: RepoRef,
  body: Record<string, unknown>,
  id?: number,
): Promise<number> {
  const purpose: RequestPurpose = {
    what: `ruleset ${String(body.name)} of ${fullName(repo)} (${id === undefined ? 'create' : 'update'})`,
    permission: 'administration: write',
  };
  const response = await explained(purpose, () =>
    id === undefined
      ? client.request('POST /repos/{owner}/{repo}/rulesets', { ...at(repo), ...body })
      : client.request('PUT /repos/{owner}/{repo}/rulesets/{ruleset_id}', { ...at(repo), ruleset_id: id, ...body }),
  );
  return checked(rulesetSchema(), response.data, purpose.what).id;
}

/** The id of a GitHub App by its slug (`GET /apps/{app_slug}`), or undefined when there is none. */
export async function getAppId(client: GitHubClient, slug: string): Promise<number | undefined> {
  const purpose: RequestPurpose = { what: `GitHub App ${slug}`, permission: 'none (public)' };
  try {
    return (await read(client, purpose, 'GET /apps/{app_slug}', { app_slug: slug }, z.object({ id: z.number().int() })))
      .id;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined;
    throw error;
  }
}

export async function putClassicProtection(
  client: GitHubClient,
  repo: RepoRef,
  branch: string,
  body: ClassicProtectionUpdate,
): Promise<ClassicProtection> {
  const purpose: RequestPurpose = {
    what: `branch protection of ${branch} in ${fullName(repo)} (update)`,
    permission: 'administration: write',
  };
  const response = await explained(purpose, () =>
    client.request('PUT /repos/{owner}/{repo}/branches/{branch}/protection', { ...at(repo), branch, ...body }),
  );
  return checked(classicProtectionSchema(), response.data, purpose.what);
}

export async function setRequiredSignatures(
  client: GitHubClient,
  repo: RepoRef,
  branch: string,
  enabled: boolean,
): Promise<void> {
  const purpose: RequestPurpose = {
    what: `required signatures of ${branch} in ${fullName(repo)}`,
    permission: 'administration: write',
  };
  const method = enabled ? 'POST' : 'DELETE';
  await explained(purpose, () =>
    client.request(`${method} /repos/{owner}/{repo}/branches/{branch}/protection/required_signatures`, {
      ...at(repo),
      branch,
    }),
  );
}

export interface ConditionalStats {
  /** GETs answered 304 Not Modified from the cache (they do not count against the rate limit). */
  notModified: number;
}

/**
 * A client that remembers the ETag of every GET it made and asks again with If-None-Match: GitHub answers 304,
 * which does not count against the primary rate limit, when nothing changed (used to re-read after `apply`, and
 * across runs with a cache loaded by loadEtagCache).
 */
export function conditionalClient(
  client: GitHubClient,
  stats: ConditionalStats = { notModified: 0 },
  cache: Map<string, CachedResponse> = new Map(),
): GitHubClient & { stats: ConditionalStats; cache: Map<string, CachedResponse> } {
  return {
    stats,
    cache,
    request: async (route, parameters = {}) => {
      if (!route.startsWith('GET ')) return client.request(route, parameters);
      const key = `${route} ${JSON.stringify(parameters)}`;
      const cached = cache.get(key);
      try {
        const response = await client.request(
          route,
          cached ? { ...parameters, headers: { 'if-none-match': cached.etag } } : parameters,
        );
        const etag = response.headers.etag;
        if (typeof etag === 'string') cache.set(key, { etag, response });
        return response;
      } catch (error) {
        if (cached && isRequestError(error) && error.status === 304) {
          stats.notModified++;
          return cached.response;
        }
        throw error;
      }
    },
  };
}
