import { z } from 'zod';
import type { GitHubClient } from '../github/client.js';
import { explained, type RequestPurpose } from '../github/errors.js';
import { checked, read, type RepoRef } from '../github/queries.js';
import { deploymentSchema, deploymentStatusSchema, type Deployment, type DeploymentStatus } from '../github/schemas.js';

/**
 * The deployments API calls of a deploy: create a deployment of one commit, add a status to it, list an
 * environment's newest deployments. Writes name the permission that grants them (`deployments: write`) for the
 * error a person sees, and check GitHub's answer like every read.
 */

const fullName = (repo: RepoRef) => `${repo.owner}/${repo.repo}`;
const at = (repo: RepoRef) => ({ owner: repo.owner, repo: repo.repo });

export interface NewDeployment {
  environment: string;
  /** The full commit SHA deployed: the deployment's `ref`, so its `sha` is exactly that commit. */
  sha: string;
  description: string;
  production: boolean;
}

/**
 * POST …/deployments for exactly one commit. `auto_merge: false`: GitHub would otherwise try to merge the default
 * branch into the ref; `required_contexts: []`: the commit's build was already verified by resolve-build-run, and
 * GitHub's default (every commit status context must be success) would refuse with 409 on any unrelated red check.
 */
export async function createDeployment(client: GitHubClient, repo: RepoRef, spec: NewDeployment): Promise<Deployment> {
  const purpose: RequestPurpose = {
    what: `a new deployment of ${spec.sha} to "${spec.environment}" in ${fullName(repo)}`,
    permission: 'deployments: write',
  };
  const response = await explained(purpose, () =>
    client.request('POST /repos/{owner}/{repo}/deployments', {
      ...at(repo),
      ref: spec.sha,
      environment: spec.environment,
      description: spec.description.slice(0, 140),
      auto_merge: false,
      required_contexts: [],
      transient_environment: false,
      production_environment: spec.production,
    }),
  );
  const deployment = checked(deploymentSchema(), response.data, purpose.what, `POST ${response.url}`);
  if (deployment.sha.toLowerCase() !== spec.sha.toLowerCase())
    throw new Error(`GitHub created deployment ${deployment.id} for ${deployment.sha}, not ${spec.sha}`);
  return deployment;
}

export const STATES = ['in_progress', 'success', 'failure', 'error', 'inactive'] as const;
export type DeploymentState = (typeof STATES)[number];

/** POST …/deployments/{id}/statuses. A success marks the environment's earlier successful deployments inactive. */
export async function addStatus(
  client: GitHubClient,
  repo: RepoRef,
  deploymentId: number,
  status: { state: DeploymentState; description: string; logUrl?: string; environmentUrl?: string },
): Promise<DeploymentStatus> {
  const purpose: RequestPurpose = {
    what: `the status "${status.state}" of deployment ${deploymentId} in ${fullName(repo)}`,
    permission: 'deployments: write',
  };
  const response = await explained(purpose, () =>
    client.request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
      ...at(repo),
      deployment_id: deploymentId,
      state: status.state,
      description: status.description.slice(0, 140),
      ...(status.logUrl ? { log_url: status.logUrl } : {}),
      ...(status.environmentUrl ? { environment_url: status.environmentUrl } : {}),
      auto_inactive: true,
    }),
  );
  return checked(deploymentStatusSchema(), response.data, purpose.what, `POST ${response.url}`);
}

/** The newest deployments of an environment, newest first (up to `limit`, at most 100). */
export function newestDeployments(
  client: GitHubClient,
  repo: RepoRef,
  environment: string,
  limit: number,
): Promise<Deployment[]> {
  return read(
    client,
    { what: `deployments of environment "${environment}" in ${fullName(repo)}`, permission: 'deployments: read' },
    'GET /repos/{owner}/{repo}/deployments',
    { ...at(repo), environment, per_page: limit },
    z.array(deploymentSchema()),
  );
}

/** GET …/deployments/{id}: the deployment as GitHub has it (its environment and commit). */
export async function getDeployment(client: GitHubClient, repo: RepoRef, deploymentId: number): Promise<Deployment> {
  return read(
    client,
    { what: `deployment ${deploymentId} in ${fullName(repo)}`, permission: 'deployments: read' },
    'GET /repos/{owner}/{repo}/deployments/{deployment_id}',
    { ...at(repo), deployment_id: deploymentId },
    deploymentSchema(),
  );
}
