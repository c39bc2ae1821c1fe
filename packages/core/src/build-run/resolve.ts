import { coreContext, type CoreContext } from '../context.js';
import { UserError } from '../errors.js';
import type { GitHubClient } from '../github/client.js';
import { FULL_SHA, workflowFile } from '../github/schemas.js';
import { findArtifact } from './artifact.js';
import { checkEnvironment } from './environment.js';
import { Checks, type BuildRunQuery, type BuildRunResolution, type ResolvedArtifact } from './model.js';
import { describeChosen } from './runs.js';
import { findBuildRuns } from './wait.js';
import { findWorkflow } from './workflow.js';

export {
  BuildRunNotResolved,
  type BuildRunQuery,
  type BuildRunResolution,
  type EnvironmentEvidence,
  type ResolvedArtifact,
} from './model.js';
export { expandArtifactName } from './artifact.js';
export { describeRuns } from './runs.js';
/** Re-exported for the action, which checks its sha input with it (it lives with the GitHub schemas). */
export { FULL_SHA };

/**
 * The build run of exactly one commit: 1. the workflow, 2. its runs of the commit (earlier attempts included,
 * waiting when allowed), 3. the artifact, 4. for promotions, the environment gate. Each step is one check in
 * `results`; a failure to resolve throws BuildRunNotResolved with the checks so far.
 */
export async function resolveBuildRun(
  client: GitHubClient,
  query: BuildRunQuery,
  context: Partial<CoreContext> = {},
): Promise<BuildRunResolution> {
  const ctx = coreContext(context);
  if (!FULL_SHA.test(query.sha)) {
    throw new UserError(
      `"${query.sha}" is not a full commit SHA (40 hexadecimal characters); pass the full SHA, e.g. \${{ github.sha }}`,
    );
  }
  const checks = new Checks(ctx.now);
  const repo = { owner: query.owner, repo: query.repo };

  const started = ctx.now();
  const workflow = await checks.step('Workflow', started, () => findWorkflow(client, repo, query.workflow));
  const file = workflowFile(workflow);
  checks.pass('Workflow', `${file} ("${workflow.name}", id ${workflow.id})`, started);

  const { matching, check } = await findBuildRuns(client, query, workflow, checks, ctx);
  let chosen = matching[0]!;
  let artifact: ResolvedArtifact | undefined;
  if (query.artifactName) {
    ({ artifact, run: chosen } = await findArtifact(
      client,
      { ...query, artifactName: query.artifactName },
      workflow,
      matching,
      checks,
      ctx,
    ));
    check.detail = describeChosen(chosen, query.conclusion); // the artifact may have chosen an older run of the commit
  }
  const environment = query.requireEnvironment
    ? await checkEnvironment(client, { ...query, requireEnvironment: query.requireEnvironment }, checks, ctx)
    : undefined;

  return {
    workflow: { id: workflow.id, name: workflow.name, file, htmlUrl: workflow.html_url },
    run: {
      id: chosen.id,
      url: chosen.html_url,
      attempt: chosen.run_attempt ?? 1,
      number: chosen.run_number,
      headSha: chosen.head_sha,
      createdAt: chosen.created_at,
      branch: chosen.head_branch ?? undefined,
      event: chosen.event,
    },
    artifact,
    environment,
    results: checks.results,
  };
}
