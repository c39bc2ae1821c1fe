import type { CoreContext } from '../context.js';
import type { GitHubClient } from '../github/client.js';
import { artifactExpired, listRunArtifacts } from '../github/queries.js';
import { workflowFile, type Artifact, type Workflow, type WorkflowRun } from '../github/schemas.js';
import type { BuildRunQuery, Checks, ResolvedArtifact } from './model.js';
import { short, wantedRun, type CandidateRun } from './runs.js';

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
 * The named artifacts of a run that belong to the chosen attempt. A run's artifact list spans its attempts: an
 * earlier attempt's artifact stays when a re-run did not upload it again (re-run failed jobs), and a re-run that
 * does replaces it (`overwrite: true`; a second artifact of one name is refused). So for an earlier attempt only
 * artifacts created before the next attempt started are its own; when that time is unknown, nothing is taken.
 */
function ofChosenAttempt(run: CandidateRun, named: readonly Artifact[]): { own: Artifact[]; why?: string } {
  if (run.nextAttemptStartedAt === undefined) return { own: [...named] };
  const attempt = run.run_attempt ?? 1;
  if (run.nextAttemptStartedAt === null)
    return {
      own: [],
      why: `cannot tell whether its artifact was uploaded by attempt ${attempt} (which concluded as required) or by a later re-run (GitHub did not say when attempt ${attempt + 1} started)`,
    };
  const cutoff = Date.parse(run.nextAttemptStartedAt);
  const own = named.filter((artifact) => artifact.created_at !== null && Date.parse(artifact.created_at) < cutoff);
  const later = named.find((artifact) => !own.includes(artifact));
  return own.length > 0 || !later
    ? { own }
    : {
        own,
        why: `its artifact (id ${later.id}, created ${later.created_at ?? 'at an unknown time'}) was uploaded by a later attempt (attempt ${attempt + 1} started ${run.nextAttemptStartedAt}), not by attempt ${attempt}, which concluded as required`,
      };
}

/**
 * Step 3: the live artifact named by the query, uploaded by the chosen attempt, on the newest matching run that
 * carries it; that run becomes the chosen one (an older run of the same commit may carry it when the newest does
 * not). Records the "Artifact" check.
 */
export async function findArtifact(
  client: GitHubClient,
  query: BuildRunQuery & { artifactName: string },
  workflow: Workflow,
  matching: readonly CandidateRun[],
  checks: Checks,
  context: CoreContext,
): Promise<{ artifact: ResolvedArtifact; run: WorkflowRun }> {
  const started = context.now();
  const name = expandArtifactName(query.artifactName, query.sha);
  const seen: string[] = [];
  for (const run of matching.filter(
    (candidate, index) => matching.findIndex((other) => other.id === candidate.id) === index,
  )) {
    const listed = await checks.step('Artifact', started, () => listRunArtifacts(client, query, run, name));
    const { own: named, why } = ofChosenAttempt(run, listed);
    if (why) {
      seen.push(`run #${run.run_number} (${run.html_url}): ${why}`);
      continue;
    }
    const live = named.filter((candidate) => !artifactExpired(candidate, context.now())).sort((a, b) => b.id - a.id)[0];
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
    const expired = named.find((candidate) => artifactExpired(candidate, context.now()));
    seen.push(
      expired
        ? `run #${run.run_number} (${run.html_url}): "${name}" expired${expired.expires_at ? ` at ${expired.expires_at}` : ''}${expired.expired ? '' : " (GitHub's expired flag not set yet)"}`
        : `run #${run.run_number} (${run.html_url}): no artifact named "${name}"`,
    );
  }
  return checks.fail(
    'Artifact',
    `No live artifact "${name}" on the ${wantedRun(query.conclusion)}${matching.length === 1 ? '' : 's'} of ${workflowFile(workflow)} for ${short(query.sha)}:\n- ${seen.join('\n- ')}\nRe-run the build for this commit to upload it again (expired artifacts cannot be restored), or check artifact-name against the name the build uploads.`,
    started,
  );
}
