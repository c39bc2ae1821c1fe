import type { CoreContext } from '../context.js';
import type { GitHubClient } from '../github/client.js';
import { GitHubHttpError } from '../github/errors.js';
import { getCommit, listRunsOfCommit } from '../github/queries.js';
import { workflowFile, type Workflow, type WorkflowRun } from '../github/schemas.js';
import { formatDuration } from '../units/duration.js';
import type { CheckResult } from '../report/result.js';
import type { BuildRunQuery, Checks } from './model.js';
import {
  CommitRuns,
  describeChosen,
  type CandidateRun,
  describeRuns,
  newestFirst,
  runLinks,
  short,
  stateOf,
  wantedRun,
} from './runs.js';

const SKIPPED_WHY =
  'a pull request run builds the merge of the pull request into its base (or the base branch itself), not the commit it reports as head_sha, so it is not used unless the event input asks for that event. Build this commit on push, or set event: pull_request knowingly.';

const filtersOf = (query: BuildRunQuery) =>
  [query.branch && `branch ${query.branch}`, query.event && `event ${query.event}`].filter(Boolean).join(', ');

/**
 * Step 2: the runs of this commit that concluded as required, newest first (never empty), waiting for queued or
 * in-progress runs for up to `waitMs`. Records the "Build run" check; fails it, saying what was found, otherwise.
 */
export async function findBuildRuns(
  client: GitHubClient,
  query: BuildRunQuery,
  workflow: Workflow,
  checks: Checks,
  context: CoreContext,
): Promise<{ matching: CandidateRun[]; check: CheckResult }> {
  const started = context.now();
  const runs = new CommitRuns(client, query, workflow, context.logger);
  const poll = () =>
    checks.step('Build run', started, async () => {
      const listed = await runs.list();
      return { listed, matching: await runs.matching(listed) };
    });
  let { listed, matching } = await poll();
  for (;;) {
    const pending = listed.filter((run) => run.status !== 'completed');
    const waited = context.now() - started;
    if (matching.length > 0 || pending.length === 0 || waited >= query.waitMs) break;
    const next = Math.min(query.pollIntervalMs, query.waitMs - waited);
    context.logger.info(
      `Waiting for ${workflowFile(workflow)} ${pending.map((run) => `#${run.run_number} (${run.status})`).join(', ')} of ${short(query.sha)}: ${formatDuration(waited)} of ${formatDuration(query.waitMs)} waited, next check in ${formatDuration(next)}`,
    );
    await context.sleep(next);
    ({ listed, matching } = await poll());
  }
  if (matching.length === 0) {
    const message =
      listed.length === 0
        ? runs.skipped.length
          ? `${describeRuns(runs.skipped, workflowFile(workflow), query.sha)}, all of event ${[...new Set(runs.skipped.map((run) => run.event))].sort().join(', ')}: ${SKIPPED_WHY}`
          : await checks.step('Build run', started, () => noRunsMessage(client, query, workflow))
        : noMatchMessage(query, workflow, listed, context.now() - started);
    checks.fail('Build run', message, started);
  }
  if (runs.skipped.length)
    context.logger.info(
      `Left out ${runs.skipped.length} pull request run(s) of ${short(query.sha)} (${runs.skipped.map((run) => `#${run.run_number} ${run.event}`).join(', ')}): they built a merge ref, not this commit`,
    );
  return { matching, check: checks.pass('Build run', describeChosen(matching[0]!, query.conclusion), started) };
}

/** Runs exist, none concluded as required: what they are, and what to do. */
function noMatchMessage(query: BuildRunQuery, workflow: Workflow, listed: WorkflowRun[], waitedMs: number): string {
  const filters = filtersOf(query);
  const pending = listed.some((run) => run.status !== 'completed');
  const waitNote = pending
    ? query.waitMs > 0
      ? ` after waiting ${formatDuration(waitedMs)} (wait is ${formatDuration(query.waitMs)}); raise wait to give the build more time`
      : '; the build is still running: set wait (e.g. 10m) to wait for it'
    : '; re-run the build for this commit or deploy a commit whose build succeeded';
  return `${describeRuns(listed, workflowFile(workflow), query.sha)}${filters ? ` (${filters})` : ''}; no ${wantedRun(query.conclusion)}${waitNote}${runLinks(listed)}`;
}

/** No run at all: whether the filters left runs out, whether the commit exists, and where to look. */
async function noRunsMessage(client: GitHubClient, query: BuildRunQuery, workflow: Workflow): Promise<string> {
  const full = `${query.owner}/${query.repo}`;
  const file = workflowFile(workflow);
  const filters = filtersOf(query);
  const base = `No run of ${file} for ${short(query.sha)}${filters ? ` (${filters})` : ''} in ${full}`;
  if (filters) {
    // The filters may be what excludes the build: say which runs of the commit they left out.
    try {
      const unfiltered = await listRunsOfCommit(client, query, workflow, query.sha, {}, 1);
      if (unfiltered.items.length > 0) {
        const shown = [...unfiltered.items]
          .sort(newestFirst)
          .slice(0, 5)
          .map(
            (run) => `#${run.run_number} ${stateOf(run)} on branch ${run.head_branch ?? '(none)'} (event ${run.event})`,
          );
        const more = unfiltered.totalCount > shown.length ? `, … ${unfiltered.totalCount - shown.length} more` : '';
        return `${base}; without the filters it has ${shown.join(', ')}${more}. Fix the branch/event inputs (or leave them empty): the commit's build ran under another branch or event.`;
      }
    } catch {
      // A courtesy like the commit check below; the message without it still holds.
    }
  }
  try {
    await getCommit(client, query, query.sha);
  } catch (error) {
    if (error instanceof GitHubHttpError && (error.status === 404 || error.status === 422)) {
      return `${base}: commit ${query.sha} does not exist in ${full}. Check the sha input: it must be a full SHA of a commit pushed to this repository.`;
    }
    // The commit check is a courtesy (it needs contents: read); without it, say what is known.
  }
  return `${base}. Did ${file} run for this commit (its on: triggers, branch and path filters)?${filters ? ' Check the branch/event filters too.' : ''} Runs: ${workflow.html_url.replace(/\/blob\/[^/]+\/\.github\/workflows\/.*$/, `/actions/workflows/${file}`)}`;
}
