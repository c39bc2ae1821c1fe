import type { RenderedOutcome } from '../report/rendered.js';
import type { BuildRunNotResolved, BuildRunResolution } from './model.js';

const TITLE = 'Build run';

/** The summary's facts: what was asked, and what was found (workflow, run, artifact, environment). */
function resolutionFacts(resolution: BuildRunResolution | undefined, sha: string, repository: string) {
  const rows: [string, string][] = [
    ['Repository', repository],
    ['Commit', sha],
  ];
  if (!resolution) return rows;
  const { workflow, run, artifact, environment } = resolution;
  rows.push(
    ['Workflow', `${workflow.file} ("${workflow.name}")`],
    ['Run', `#${run.number} attempt ${run.attempt} (id ${run.id}) ${run.url}`],
    ['Run event', `${run.event}${run.branch ? ` on branch ${run.branch}` : ''}`],
    ['Run created', run.createdAt],
  );
  if (artifact)
    rows.push(
      ['Artifact', `${artifact.name} (id ${artifact.id}, ${artifact.sizeInBytes} bytes)`],
      ['Artifact digest', artifact.digest ?? 'not reported by GitHub'],
    );
  if (artifact?.expiresAt) rows.push(['Artifact expires', artifact.expiresAt]);
  if (environment)
    rows.push([
      'Environment',
      `${environment.environment}: deployment ${environment.deploymentId} ${environment.state} since ${environment.successSince}`,
    ]);
  return rows;
}

/** The build run of `sha` found, as the step shows it. */
export function renderResolution(resolution: BuildRunResolution, sha: string, repository: string): RenderedOutcome {
  const { run } = resolution;
  return {
    title: TITLE,
    results: resolution.results,
    facts: resolutionFacts(resolution, sha, repository),
    report: { sha, details: { repository, ...resolution, results: undefined } },
    verdict: `Build of ${sha.slice(0, 8)}: run ${run.id} (#${run.number}, event ${run.event}) ${run.url}`,
  };
}

/** No build run of `sha` (or no usable one): the checks that said why, and the failure. */
export function renderNotResolved(error: BuildRunNotResolved, sha: string, repository: string): RenderedOutcome {
  return {
    title: TITLE,
    results: error.results,
    facts: resolutionFacts(undefined, sha, repository),
    report: { sha, details: { repository } },
    failure: error.message,
  };
}
