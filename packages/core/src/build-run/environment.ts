import type { CoreContext } from '../context.js';
import type { GitHubClient } from '../github/client.js';
import { deploymentStatuses, latestDeployment } from '../github/queries.js';
import { formatDuration } from '../units/duration.js';
import type { BuildRunQuery, Checks, EnvironmentEvidence } from './model.js';
import { short } from './runs.js';

/**
 * Step 4, for promotions: the environment's latest deployment is this SHA, its latest status is success, and has
 * been for at least minAgeMs. Records the "Environment" check.
 */
export async function checkEnvironment(
  client: GitHubClient,
  query: BuildRunQuery & { requireEnvironment: string },
  checks: Checks,
  context: CoreContext,
): Promise<EnvironmentEvidence> {
  const started = context.now();
  const evidence = await checks.step('Environment', started, () =>
    readEnvironment(client, query, context.now, (message) => checks.fail('Environment', message, started)),
  );
  const needs = query.minAgeMs ? `, needs ${formatDuration(query.minAgeMs)}` : '';
  checks.pass(
    'Environment',
    `${evidence.environment} runs ${short(query.sha)} successfully since ${evidence.successSince} (${formatDuration(evidence.ageMs)}${needs})`,
    started,
  );
  return evidence;
}

async function readEnvironment(
  client: GitHubClient,
  query: BuildRunQuery & { requireEnvironment: string },
  now: () => number,
  fail: (message: string) => never,
): Promise<EnvironmentEvidence> {
  const env = query.requireEnvironment;
  const full = `${query.owner}/${query.repo}`;
  const latest = await latestDeployment(client, query, env);
  if (!latest)
    return fail(
      `Environment "${env}" has no deployment in ${full}; deploy ${short(query.sha)} there first, or check require-environment.`,
    );
  if (latest.sha.toLowerCase() !== query.sha.toLowerCase()) {
    return fail(
      `The latest deployment of "${env}" (id ${latest.id}, ${latest.created_at}) is for ${short(latest.sha)}, not ${short(query.sha)}: promote only what ${env} runs, or deploy ${short(query.sha)} to ${env} first.`,
    );
  }
  const [status] = await deploymentStatuses(client, query, latest.id, 1);
  if (!status)
    return fail(
      `The latest deployment of "${env}" (id ${latest.id}) for ${short(query.sha)} has no status yet; wait for it to finish.`,
    );
  if (status.state !== 'success') {
    return fail(
      `The latest deployment of "${env}" (id ${latest.id}) for ${short(query.sha)} is "${status.state}" (since ${status.created_at}), not "success".`,
    );
  }
  const ageMs = Math.max(now() - Date.parse(status.created_at), 0);
  const minAge = query.minAgeMs ?? 0;
  if (ageMs < minAge) {
    return fail(
      `"${env}" runs ${short(query.sha)} successfully since ${status.created_at}, only ${formatDuration(ageMs)}; min-age is ${formatDuration(minAge)}. Promote after ${new Date(Date.parse(status.created_at) + minAge).toISOString()}.`,
    );
  }
  return { environment: env, deploymentId: latest.id, state: status.state, successSince: status.created_at, ageMs };
}
