import type { z } from 'zod';
import type { GitHubClient } from './client.js';
import { explained, GitHubUnexpectedResponse, type RequestPurpose } from './errors.js';
import {
  artifactListSchema,
  deploymentSchema,
  deploymentStatusSchema,
  gitCommitSchema,
  runListSchema,
  runSchema,
  workflowFile,
  workflowListSchema,
  workflowSchema,
  type Artifact,
  type Deployment,
  type DeploymentStatus,
  type GitCommit,
  type Workflow,
  type WorkflowRun,
} from './schemas.js';

/**
 * Typed reads of the GitHub REST API: each names what it reads and the permission that grants it (for the error
 * a person sees), explains a failed request, and checks the answer's shape before anything uses it.
 */
export interface RepoRef {
  owner: string;
  repo: string;
}

export interface Paged<T> {
  items: T[];
  /** GitHub's total_count for the query (of all pages, before any filtering here). */
  totalCount: number;
}

export const PER_PAGE = 100;

const fullName = (repo: RepoRef) => `${repo.owner}/${repo.repo}`;
/** The path parameters of a repository (only those: a caller may pass a larger object). */
const at = (repo: RepoRef) => ({ owner: repo.owner, repo: repo.repo });

/** `data` as `schema` says, or GitHubUnexpectedResponse naming what was read and the first problems. */
export function checked<T>(schema: z.ZodType<T>, data: unknown, what: string, request?: string): T {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const { issues } = result.error;
  const first = issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  const more = issues.length > 3 ? `; … ${issues.length - 3} more` : '';
  throw new GitHubUnexpectedResponse(
    `GitHub returned an unexpected response for ${what}${request ? ` (${request})` : ''}: ${first.join('; ')}${more}. Check that the API URL is GitHub's REST API (GITHUB_API_URL on GitHub Enterprise Server); if it is, run again.`,
  );
}

/** One GET: its failure explained, its answer checked. */
export async function read<T>(
  client: GitHubClient,
  purpose: RequestPurpose,
  route: string,
  params: Record<string, unknown>,
  schema: z.ZodType<T>,
): Promise<T> {
  const response = await explained(purpose, () => client.request(route, params));
  return checked(schema, response.data, purpose.what, `${route.split(' ')[0]} ${response.url}`);
}

/** Pages of 100 until a short page, the total count, or `maxPages`. */
export async function readPages<P, T>(
  client: GitHubClient,
  purpose: RequestPurpose,
  route: string,
  params: Record<string, unknown>,
  page: { schema: z.ZodType<P>; items: (page: P) => T[]; total: (page: P) => number; maxPages: number },
): Promise<Paged<T>> {
  const items: T[] = [];
  let totalCount = 0;
  for (let number = 1; number <= page.maxPages; number++) {
    const data = await read(client, purpose, route, { ...params, per_page: PER_PAGE, page: number }, page.schema);
    const list = page.items(data);
    items.push(...list);
    totalCount = page.total(data);
    if (list.length < PER_PAGE || number * PER_PAGE >= totalCount) break;
  }
  return { items, totalCount };
}

/** A workflow by numeric id or file name (`build-artifacts.yml`). */
export function getWorkflow(client: GitHubClient, repo: RepoRef, workflow: string | number): Promise<Workflow> {
  const purpose: RequestPurpose = { what: `workflow ${workflow} of ${fullName(repo)}`, permission: 'actions: read' };
  return read(
    client,
    purpose,
    'GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}',
    { ...at(repo), workflow_id: workflow },
    workflowSchema(),
  );
}

/** All workflows of a repository (up to 2,000). */
export async function listWorkflows(client: GitHubClient, repo: RepoRef): Promise<Workflow[]> {
  const full = fullName(repo);
  const purpose: RequestPurpose = {
    what: `workflows of ${full}`,
    permission: 'actions: read',
    notFound: `Repository ${full} not found`,
  };
  const paged = await readPages(client, purpose, 'GET /repos/{owner}/{repo}/actions/workflows', at(repo), {
    schema: workflowListSchema(),
    items: (list) => list.workflows,
    total: (list) => list.total_count,
    maxPages: 20,
  });
  return paged.items;
}

export interface RunFilters {
  branch?: string;
  event?: string;
}

/**
 * The runs of one workflow for one commit (GitHub lists each run's latest attempt), paged; runs GitHub returns
 * for another SHA are dropped. `maxPages` 100 reads up to 10,000 runs of the commit.
 */
export async function listRunsOfCommit(
  client: GitHubClient,
  repo: RepoRef,
  workflow: Workflow,
  sha: string,
  filters: RunFilters = {},
  maxPages = 100,
): Promise<Paged<WorkflowRun>> {
  const purpose: RequestPurpose = {
    what: `runs of ${workflowFile(workflow)} in ${fullName(repo)}`,
    permission: 'actions: read',
  };
  const params = {
    ...at(repo),
    workflow_id: workflow.id,
    head_sha: sha,
    ...(filters.branch ? { branch: filters.branch } : {}),
    ...(filters.event ? { event: filters.event } : {}),
  };
  const paged = await readPages(
    client,
    purpose,
    'GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs',
    params,
    {
      schema: runListSchema(),
      items: (list) => list.workflow_runs,
      total: (list) => list.total_count,
      maxPages,
    },
  );
  return {
    items: paged.items.filter((run) => run.head_sha.toLowerCase() === sha.toLowerCase()),
    totalCount: paged.totalCount,
  };
}

/** One attempt of a run (earlier attempts are not in run lists). */
export function getRunAttempt(
  client: GitHubClient,
  repo: RepoRef,
  run: Pick<WorkflowRun, 'id' | 'run_number'>,
  attempt: number,
): Promise<WorkflowRun> {
  const purpose: RequestPurpose = {
    what: `attempts of run #${run.run_number} (${run.id}) in ${fullName(repo)}`,
    permission: 'actions: read',
  };
  return read(
    client,
    purpose,
    'GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}',
    { ...at(repo), run_id: run.id, attempt_number: attempt },
    runSchema(),
  );
}

/**
 * Whether an artifact can no longer be downloaded. GitHub deletes expired artifacts in a background job: `expired` may
 * still be false after `expires_at` has passed, and a download would then fail with 410. Past `expires_at` is expired,
 * whatever the flag says.
 */
export function artifactExpired(artifact: Artifact, now: number): boolean {
  return artifact.expired || (artifact.expires_at !== null && Date.parse(artifact.expires_at) <= now);
}

/** The artifacts of a run, only those named `name` when given (expired ones included). */
export async function listRunArtifacts(
  client: GitHubClient,
  repo: RepoRef,
  run: Pick<WorkflowRun, 'id' | 'run_number'>,
  name?: string,
): Promise<Artifact[]> {
  const purpose: RequestPurpose = {
    what: `artifacts of run #${run.run_number} (${run.id}) in ${fullName(repo)}`,
    permission: 'actions: read',
  };
  const paged = await readPages(
    client,
    purpose,
    'GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts',
    { ...at(repo), run_id: run.id, ...(name ? { name } : {}) },
    {
      schema: artifactListSchema(),
      items: (list) => list.artifacts,
      total: (list) => list.total_count,
      maxPages: 10,
    },
  );
  return name ? paged.items.filter((artifact) => artifact.name === name) : paged.items;
}

/** The newest deployment to an environment, if any. */
export async function latestDeployment(
  client: GitHubClient,
  repo: RepoRef,
  environment: string,
): Promise<Deployment | undefined> {
  const purpose: RequestPurpose = {
    what: `deployments of environment "${environment}" in ${fullName(repo)}`,
    permission: 'deployments: read',
  };
  const list = await read(
    client,
    purpose,
    'GET /repos/{owner}/{repo}/deployments',
    { ...at(repo), environment, per_page: 1 },
    deploymentSchema().array(),
  );
  return list[0];
}

/** The newest statuses of a deployment, newest first (`limit` up to 100). */
export function deploymentStatuses(
  client: GitHubClient,
  repo: RepoRef,
  deploymentId: number,
  limit = 1,
): Promise<DeploymentStatus[]> {
  const purpose: RequestPurpose = {
    what: `statuses of deployment ${deploymentId} in ${fullName(repo)}`,
    permission: 'deployments: read',
  };
  return read(
    client,
    purpose,
    'GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses',
    { ...at(repo), deployment_id: deploymentId, per_page: limit },
    deploymentStatusSchema().array(),
  );
}

/** A commit object; a GitHubHttpError with status 404 or 422 when the repository has no such commit. */
export function getCommit(client: GitHubClient, repo: RepoRef, sha: string): Promise<GitCommit> {
  const purpose: RequestPurpose = { what: `commit ${sha} of ${fullName(repo)}`, permission: 'contents: read' };
  return read(
    client,
    purpose,
    'GET /repos/{owner}/{repo}/git/commits/{commit_sha}',
    { ...at(repo), commit_sha: sha },
    gitCommitSchema(),
  );
}
