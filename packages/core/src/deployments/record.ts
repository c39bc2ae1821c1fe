import { UserError } from '../errors.js';
import type { GitHubClient } from '../github/client.js';
import { deploymentStatuses, type RepoRef } from '../github/queries.js';
import { addStatus, createDeployment, getDeployment, newestDeployments } from './api.js';

/**
 * The deployment record of one deploy, kept true to what the environment runs: a deployment of exactly the SHA
 * deployed, `in_progress` while it is deployed, `success` only once it is live and passed health and smoke,
 * `failure` otherwise, and after a rollback a new successful deployment of the SHA rolled back to. The promotion
 * gate (build-run's environment check) reads the newest deployment of an environment: with this record it is what
 * the environment runs, or a failure that refuses every promotion until a deploy succeeds.
 */
export interface RecordPlace {
  repo: RepoRef;
  environment: string;
  /** The deploy run's URL, shown with each status. */
  logUrl?: string;
  environmentUrl?: string;
  /** Whether the environment is the one end users reach (GitHub's production_environment). */
  production?: boolean;
}

export interface LiveDeployment {
  deploymentId: number;
  sha: string;
}

export interface StartedDeployment {
  deploymentId: number;
  /** The environment's live deployment before this one: what a rollback brings back. */
  previous?: LiveDeployment;
}

/** How many of the newest deployments are read to find the live one (failed deploys may lie above it). */
const LIVE_SEARCH = 10;
const short = (sha: string) => sha.slice(0, 8);

/** The newest deployment of the environment whose newest status is success, if any among the newest ten. */
export async function liveDeployment(
  client: GitHubClient,
  repo: RepoRef,
  environment: string,
): Promise<LiveDeployment | undefined> {
  for (const deployment of await newestDeployments(client, repo, environment, LIVE_SEARCH)) {
    const [status] = await deploymentStatuses(client, repo, deployment.id, 1);
    if (status?.state === 'success') return { deploymentId: deployment.id, sha: deployment.sha.toLowerCase() };
  }
  return undefined;
}

/** Creates the deployment of `sha` and marks it in_progress; remembers what ran before. */
export async function startDeployment(
  client: GitHubClient,
  place: RecordPlace,
  sha: string,
): Promise<StartedDeployment> {
  const previous = await liveDeployment(client, place.repo, place.environment);
  const deployment = await createDeployment(client, place.repo, {
    environment: place.environment,
    sha,
    description: `deploy-gates: ${short(sha)} to ${place.environment}`,
    production: place.production ?? false,
  });
  await addStatus(client, place.repo, deployment.id, {
    state: 'in_progress',
    description: `Deploying ${short(sha)}: verify, gates, switch, health, smoke`,
    logUrl: place.logUrl,
    environmentUrl: place.environmentUrl,
  });
  return { deploymentId: deployment.id, previous };
}

/**
 * The deploy's verdict on its deployment: success only when it is live, healthy and passed smoke. The deployment
 * must be of this environment (and of `sha`, when given): an id from another job's output must not mark another
 * environment's deployment live.
 */
export async function finishDeployment(
  client: GitHubClient,
  place: RecordPlace,
  deploymentId: number,
  outcome: 'success' | 'failure',
  sha?: string,
): Promise<void> {
  const deployment = await getDeployment(client, place.repo, deploymentId);
  // GitHub matches environment names without regard to case.
  const otherEnvironment = deployment.environment.toLowerCase() !== place.environment.toLowerCase();
  const otherCommit = sha !== undefined && deployment.sha.toLowerCase() !== sha.toLowerCase();
  if (otherEnvironment || otherCommit)
    throw new UserError(
      `Deployment ${deploymentId} is of "${deployment.environment}" at ${short(deployment.sha)}…, not of "${place.environment}"${sha ? ` at ${short(sha)}…` : ''}; pass the deployment-id the start step of this deploy returned. Nothing was recorded.`,
    );
  await addStatus(client, place.repo, deploymentId, {
    state: outcome,
    description: outcome === 'success' ? 'Live: health and smoke passed' : 'Failed: see the deploy run',
    logUrl: place.logUrl,
    environmentUrl: place.environmentUrl,
  });
}

/** The commit part of a release name (`20261123_080000-1a2b3c4d` → `1a2b3c4d`). */
export function releaseSha8(release: string): string | undefined {
  return /^\d{8}_\d{6}-([0-9a-f]{8})$/i.exec(release.trim())?.[1]?.toLowerCase();
}

/**
 * After a rollback to `release`, a new deployment of the SHA it carries, marked success: the environment's newest
 * deployment is again what it runs. That SHA is the previous live deployment's; a release that is not its commit
 * (a release made outside deploy-gates, or no earlier record) cannot be recorded truthfully and is refused, which
 * leaves the failed deployment newest (promotions refused) rather than claiming a commit that may not run.
 */
export async function recordRollback(
  client: GitHubClient,
  place: RecordPlace,
  release: string,
  previous: { sha: string; deploymentId?: number } | undefined,
): Promise<LiveDeployment> {
  const sha8 = releaseSha8(release);
  if (!sha8)
    throw new UserError(
      `The release rolled back to, "${release}", is not named <YYYYMMDD_HHMMSS>-<sha8>; no deployment can name its commit. ${place.environment} keeps the failed deployment as its newest, so promotions from it are refused until a deploy succeeds.`,
    );
  if (!previous || !previous.sha.startsWith(sha8))
    throw new UserError(
      `The release rolled back to (${release}, commit ${sha8}…) is not the commit of ${place.environment}'s last successful deployment (${previous ? `${short(previous.sha)}…${previous.deploymentId ? `, deployment ${previous.deploymentId}` : ''}` : 'there is none'}); recording it would claim a commit not known to run. ${place.environment} keeps the failed deployment as its newest, so promotions from it are refused until a deploy succeeds.`,
    );
  const deployment = await createDeployment(client, place.repo, {
    environment: place.environment,
    sha: previous.sha,
    description: `deploy-gates: rolled back to ${release}`,
    production: place.production ?? false,
  });
  await addStatus(client, place.repo, deployment.id, {
    state: 'success',
    description: `Rolled back to ${release}; its health check passed`,
    logUrl: place.logUrl,
    environmentUrl: place.environmentUrl,
  });
  return { deploymentId: deployment.id, sha: previous.sha };
}
