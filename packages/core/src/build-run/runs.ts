import type { GitHubClient } from '../github/client.js';
import { GitHubHttpError } from '../github/errors.js';
import { getRunAttempt, listRunsOfCommit } from '../github/queries.js';
import type { Workflow, WorkflowRun } from '../github/schemas.js';
import type { Logger } from '../logger.js';
import type { BuildRunQuery } from './model.js';

/** Earlier attempts read per resolution (re-runs hiding an attempt that concluded as required). */
const MAX_ATTEMPT_READS = 20;

export const short = (sha: string) => `${sha.slice(0, 8)}…`;

/**
 * A run, or an earlier attempt of it, that concluded as required. `nextAttemptStartedAt` bounds what it uploaded:
 * absent for a run's latest attempt; for an earlier attempt, when the attempt after it started (artifacts created
 * later belong to that re-run, which replaced same-named ones), or null when that cannot be read.
 */
export type CandidateRun = WorkflowRun & { nextAttemptStartedAt?: string | null };
export const newestFirst = (a: WorkflowRun, b: WorkflowRun) =>
  b.created_at.localeCompare(a.created_at) ||
  b.run_number - a.run_number ||
  (b.run_attempt ?? 1) - (a.run_attempt ?? 1) ||
  b.id - a.id;
export const stateOf = (run: WorkflowRun) =>
  run.status === 'completed' ? (run.conclusion ?? 'completed') : (run.status ?? 'unknown');
/** `successful run`, or `run that concluded "failure"`. */
export const wantedRun = (conclusion: string) =>
  conclusion === 'success' ? 'successful run' : `run that concluded "${conclusion}"`;
/** `#812 attempt 1 success (event push on main): https://…/runs/812` */
export const describeChosen = (run: WorkflowRun, conclusion: string) =>
  `#${run.run_number} attempt ${run.run_attempt ?? 1} ${conclusion} (event ${run.event}${run.head_branch ? ` on ${run.head_branch}` : ''}): ${run.html_url}`;

/**
 * Events whose runs did not build their `head_sha`: GitHub runs `pull_request` on the merge of the pull request into
 * its base (`refs/pull/N/merge`, GITHUB_SHA the merge commit), and `pull_request_target` on the base branch, while the
 * run's `head_sha` is the pull request's head. Their runs are used only when the `event` input asks for them.
 */
export const PULL_REQUEST_EVENTS: readonly string[] = ['pull_request', 'pull_request_target'];

/** `2 runs of build-artifacts.yml for 62584375…: 1 failure (#812), 1 in_progress (#813)` */
export function describeRuns(runs: readonly WorkflowRun[], file: string, sha: string): string {
  const groups = new Map<string, WorkflowRun[]>();
  for (const run of [...runs].sort((a, b) => a.run_number - b.run_number)) {
    const key = stateOf(run);
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  const parts = [...groups].map(([state, list]) => {
    const numbers = list.slice(0, 5).map((run) => `#${run.run_number}`);
    if (list.length > 5) numbers.push(`… ${list.length - 5} more`);
    return `${list.length} ${state} (${numbers.join(', ')})`;
  });
  return `${runs.length} run${runs.length === 1 ? '' : 's'} of ${file} for ${short(sha)}: ${parts.join(', ')}`;
}

/** The newest runs as list lines with their links. */
export function runLinks(runs: readonly WorkflowRun[]): string {
  return [...runs]
    .sort(newestFirst)
    .slice(0, 10)
    .map((run) => `\n- #${run.run_number} attempt ${run.run_attempt ?? 1} ${stateOf(run)}: ${run.html_url}`)
    .join('');
}

/**
 * The runs of one commit's workflow, and those that concluded as required. GitHub lists only each run's latest
 * attempt: a re-run that failed (or is still running) can hide an earlier attempt that concluded as required, so
 * runs with re-runs newer than the newest match have their earlier attempts read, newest first. Completed
 * attempts never change, so each is read once per resolution (across polls).
 */
export class CommitRuns {
  private readonly attempts = new Map<string, WorkflowRun | null>();
  private attemptReads = 0;
  /** Pull request runs of the commit left out of the last list (no `event` input asked for them). */
  skipped: WorkflowRun[] = [];

  constructor(
    private readonly client: GitHubClient,
    private readonly query: BuildRunQuery,
    private readonly workflow: Workflow,
    private readonly logger: Logger,
  ) {}

  async list(): Promise<WorkflowRun[]> {
    const { query } = this;
    const { items } = await listRunsOfCommit(this.client, query, this.workflow, query.sha, {
      branch: query.branch,
      event: query.event,
    });
    if (query.event) return items;
    this.skipped = items.filter((run) => PULL_REQUEST_EVENTS.includes(run.event));
    return items.filter((run) => !PULL_REQUEST_EVENTS.includes(run.event));
  }

  concluded(run: WorkflowRun): boolean {
    return run.status === 'completed' && run.conclusion === this.query.conclusion;
  }

  /** The runs (or earlier attempts) that concluded as required, newest first. */
  async matching(listed: WorkflowRun[]): Promise<CandidateRun[]> {
    const matches: CandidateRun[] = listed.filter((run) => this.concluded(run)).sort(newestFirst);
    const newest = matches[0];
    const rerun = listed
      .filter((run) => (run.run_attempt ?? 1) > 1 && !this.concluded(run) && (!newest || newestFirst(run, newest) < 0))
      .sort(newestFirst);
    for (const run of rerun) {
      let nextAttemptStartedAt: string | null = run.run_started_at ?? null;
      for (let attempt = (run.run_attempt ?? 1) - 1; attempt >= 1; attempt--) {
        const earlier = await this.readAttempt(run, attempt);
        if (earlier && this.concluded(earlier)) {
          this.logger.info(
            `Run #${run.run_number} attempt ${run.run_attempt} is ${stateOf(run)}; attempt ${earlier.run_attempt ?? attempt} concluded ${this.query.conclusion}`,
          );
          matches.push({ ...earlier, run_attempt: earlier.run_attempt ?? attempt, nextAttemptStartedAt });
          break;
        }
        nextAttemptStartedAt = earlier?.run_started_at ?? null;
      }
    }
    return matches.sort(newestFirst);
  }

  private async readAttempt(run: WorkflowRun, attempt: number): Promise<WorkflowRun | null> {
    const key = `${run.id}/${attempt}`;
    if (this.attempts.has(key)) return this.attempts.get(key)!;
    if (this.attemptReads >= MAX_ATTEMPT_READS) return null;
    this.attemptReads++;
    let found: WorkflowRun | null;
    try {
      found = await getRunAttempt(this.client, this.query, run, attempt);
    } catch (error) {
      // Reading earlier attempts is a best effort on top of the run list (which already succeeded): an attempt
      // GitHub no longer has, or a server without this endpoint, counts as not concluded as required. A GitHub
      // that cannot be reached or answers nonsense is not a missing attempt: that fails the step.
      if (!(error instanceof GitHubHttpError)) throw error;
      this.logger.debug(`Could not read attempt ${attempt} of run #${run.run_number}: ${error.message}`);
      found = null;
    }
    if (found && found.head_sha.toLowerCase() !== this.query.sha.toLowerCase()) found = null;
    if (found === null || found.status === 'completed') this.attempts.set(key, found);
    return found;
  }
}
