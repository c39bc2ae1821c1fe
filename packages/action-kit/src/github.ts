/**
 * The runner's facts about the workflow run, read once from `@actions/github`'s Context (GITHUB_* variables and the
 * event payload) — the module alone, by path: the package's index would load Octokit, and its `exports` map offers
 * only the index (so @actions/github is pinned to an exact version, as @actions/core is for the protocol runner).
 */
import { Context } from '../../../node_modules/@actions/github/lib/context.js';
import { hostname } from 'node:os';
import { InputError } from './inputs.js';

export interface GitHubFacts {
  /**
   * The action's `github-token` input, or else GITHUB_TOKEN from the step's environment; masked before anything runs.
   * Undefined when neither is set.
   */
  token?: string;
  /** The workflow's repository (GITHUB_REPOSITORY); undefined outside a runner. */
  repository?: { owner: string; repo: string };
  /** The commit the workflow runs for (GITHUB_SHA), lower-case; undefined outside a runner. */
  sha?: string;
  serverUrl: string;
  actor?: string;
  /** The run and its attempt, with the job's id and the step's (GITHUB_ACTION); undefined outside a runner. */
  run?: { id: number; attempt: number; workflow?: string; job?: string; step?: string };
  /** The run's page, `https://github.com/o/r/actions/runs/<id>`; undefined outside a runner. */
  runUrl?: string;
  /**
   * Who holds a deploy lock, for the messages of a run that finds it held: `run o/r#<id>/<attempt> (<workflow> /
   * <job>), host <name>, pid <pid>` — the host and pid alone outside a runner.
   */
  runLabel: string;
}

/** GITHUB_REPOSITORY, else the event payload's repository; undefined when neither names one. */
function repositoryOf(context: Context): { owner: string; repo: string } | undefined {
  try {
    const { owner, repo } = context.repo;
    return owner && repo ? { owner, repo } : undefined;
  } catch {
    return undefined; // neither is there: outside a runner
  }
}

const whole = (value: number) => (Number.isSafeInteger(value) && value > 0 ? value : undefined);

/** The facts from the step's environment; `tokenInput` is the action's `github-token` input when it has one. */
export function githubFacts(tokenInput: string | undefined): GitHubFacts {
  const context = new Context();
  const env = process.env;
  const repository = repositoryOf(context);
  const id = whole(context.runId);
  const run = id
    ? {
        id,
        attempt: whole(context.runAttempt) ?? 1,
        workflow: context.workflow,
        job: context.job,
        step: context.action || undefined,
      }
    : undefined;
  const slug = repository ? `${repository.owner}/${repository.repo}` : '?';
  const serverUrl = context.serverUrl.replace(/\/+$/, '');
  const machine = `host ${hostname()}, pid ${process.pid}`;
  return {
    token: tokenInput || env.GITHUB_TOKEN?.trim() || undefined,
    repository,
    sha: context.sha?.trim().toLowerCase() || undefined,
    serverUrl,
    actor: context.actor || undefined,
    run,
    runUrl: run && repository ? `${serverUrl}/${slug}/actions/runs/${run.id}` : undefined,
    runLabel: run
      ? `run ${slug}#${run.id}/${run.attempt} (${run.workflow ?? '?'} / ${run.job ?? '?'}), ${machine}`
      : machine,
  };
}

/**
 * The token for an action that calls the API: the `github-token` input or GITHUB_TOKEN, else the one error every
 * action gives — naming the input and the permission the call needs (`actions: read`), and why when it is not plain.
 */
export function requireToken(github: GitHubFacts, permission: string, purpose?: string): string {
  if (github.token) return github.token;
  throw new InputError(
    'github-token',
    `is empty and GITHUB_TOKEN is not set; ${purpose ? `${purpose}: ` : ''}pass \${{ github.token }} or a token with ${permission}`,
  );
}
