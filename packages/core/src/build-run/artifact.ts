import type { CoreContext } from '../context.js';
import type { GitHubClient } from '../github/client.js';
import { listRunArtifacts } from '../github/queries.js';
import { workflowFile, type Artifact, type Workflow, type WorkflowRun } from '../github/schemas.js';
import type { BuildRunQuery, Checks, ResolvedArtifact } from './model.js';
import { short, wantedRun } from './runs.js';

export function expandArtifactName(template: string, sha: string): string {
  return template.replaceAll('{sha8}', sha.slice(0, 8)).replaceAll('{sha}', sha);
}

function toArtifact(artifact: Artifact): ResolvedArtifact {
  return {
    id: artifact.id,
    name: artifact.name,
    sizeInBytes: artifact.size_in_bytes,
    // Only a digest GitHub actually reports (upload-artifact v4+), in its `sha256:<hex>` form.
    digest:
      artifact.digest && /^sha256:[0-9a-f]{64}$/i.test(artifact.digest) ? artifact.digest.toLowerCase() : undefined,
    expiresAt: artifact.expires_at ?? undefined,
  };
}

/**
 * Step 3: the live artifact named by the query, on the newest matching run that carries it; that run becomes the
 * chosen one (an older run of the same commit may carry it when the newest does not). Records the "Artifact" check.
 */
export async function findArtifact(
  client: GitHubClient,
  query: BuildRunQuery & { artifactName: string },
  workflow: Workflow,
  matching: readonly WorkflowRun[],
  checks: Checks,
  context: CoreContext,
): Promise<{ artifact: ResolvedArtifact; run: WorkflowRun }> {
  const started = context.now();
  const name = expandArtifactName(query.artifactName, query.sha);
  const seen: string[] = [];
  for (const run of matching.filter(
    (candidate, index) => matching.findIndex((other) => other.id === candidate.id) === index,
  )) {
    const named = await checks.step('Artifact', started, () => listRunArtifacts(client, query, run, name));
    const live = named.filter((candidate) => !candidate.expired).sort((a, b) => b.id - a.id)[0];
    if (live) {
      if (run !== matching[0])
        context.logger.info(
          `Run #${matching[0]!.run_number} has no artifact "${name}"; using run #${run.run_number}, which has it`,
        );
      const artifact = toArtifact(live);
      checks.pass(
        'Artifact',
        `${artifact.name} (id ${artifact.id}, ${artifact.sizeInBytes} bytes${artifact.digest ? `, ${artifact.digest}` : ''}) on run #${run.run_number}`,
        started,
      );
      return { artifact, run };
    }
    const expired = named.find((candidate) => candidate.expired);
    seen.push(
      expired
        ? `run #${run.run_number} (${run.html_url}): "${name}" expired${expired.expires_at ? ` at ${expired.expires_at}` : ''}`
        : `run #${run.run_number} (${run.html_url}): no artifact named "${name}"`,
    );
  }
  return checks.fail(
    'Artifact',
    `No live artifact "${name}" on the ${wantedRun(query.conclusion)}${matching.length === 1 ? '' : 's'} of ${workflowFile(workflow)} for ${short(query.sha)}:\n- ${seen.join('\n- ')}\nRe-run the build for this commit to upload it again (expired artifacts cannot be restored), or check artifact-name against the name the build uploads.`,
    started,
  );
}
