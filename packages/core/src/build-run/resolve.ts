import { setTimeout as delay } from 'node:timers/promises';
import type { z } from 'zod';
import { UserError } from '../errors.js';
import { explained, isRequestError, type RequestPurpose } from '../github/errors.js';
import type { GitHubClient } from '../github/client.js';
import { formatDuration } from '../inputs/duration.js';
import { silentLogger, type Logger } from '../logger.js';
import type { CheckResult } from '../report/result.js';
import {
  artifactListSchema,
  deploymentSchema,
  deploymentStatusSchema,
  runListSchema,
  runSchema,
  workflowListSchema,
  workflowSchema,
  type Artifact,
  type Deployment,
  type DeploymentStatus,
  type Workflow,
  type WorkflowRun,
} from './schemas.js';

/** What to find: the build run (and artifact) of exactly one commit. */
export interface BuildRunQuery {
  owner: string;
  repo: string;
  /** Workflow file name (`build-artifacts.yml`), numeric id, or display name. */
  workflow: string;
  /** Full 40-hex commit SHA. */
  sha: string;
  branch?: string;
  event?: string;
  conclusion: string;
  /** Artifact name; `{sha}` and `{sha8}` are replaced by the commit's SHA and its first 8 characters. */
  artifactName?: string;
  waitMs: number;
  pollIntervalMs: number;
  /** For promotions: this environment's latest deployment must be this SHA, successful, at least minAgeMs old. */
  requireEnvironment?: string;
  minAgeMs?: number;
}

export interface ResolvedArtifact {
  id: number;
  name: string;
  sizeInBytes: number;
  digest?: string;
  expiresAt?: string;
}

export interface EnvironmentEvidence {
  environment: string;
  deploymentId: number;
  state: string;
  successSince: string;
  ageMs: number;
}

export interface BuildRunResolution {
  workflow: { id: number; name: string; file: string; htmlUrl: string };
  run: { id: number; url: string; attempt: number; number: number; headSha: string; createdAt: string; branch?: string; event: string };
  artifact?: ResolvedArtifact;
  environment?: EnvironmentEvidence;
  results: CheckResult[];
}

export interface ResolveDependencies {
  logger?: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** A failure to resolve, with the checks that led to it (for the job summary). */
export class BuildRunNotResolved extends UserError {
  override name = 'BuildRunNotResolved';
  constructor(
    message: string,
    readonly results: CheckResult[],
  ) {
    super(message);
  }
}

export const FULL_SHA = /^[0-9a-f]{40}$/i;
const PER_PAGE = 100;
/** Re-runs of one commit beyond this many pages are not read (10,000 runs of one commit). */
const MAX_PAGES = 100;
/** Earlier attempts read per resolution (re-runs hiding an attempt that concluded as required). */
const MAX_ATTEMPT_READS = 20;

export function expandArtifactName(template: string, sha: string): string {
  return template.replaceAll('{sha8}', sha.slice(0, 8)).replaceAll('{sha}', sha);
}

function shape<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new Error(`GitHub's answer for ${what} does not have the documented shape (${issues.join('; ')})`);
}

const fileOf = (workflow: Workflow) => workflow.path.split('/').pop() ?? workflow.path;
const short = (sha: string) => `${sha.slice(0, 8)}…`;
const newestFirst = (a: WorkflowRun, b: WorkflowRun) =>
  b.created_at.localeCompare(a.created_at) || b.run_number - a.run_number || (b.run_attempt ?? 1) - (a.run_attempt ?? 1) || b.id - a.id;
const stateOf = (run: WorkflowRun) => (run.status === 'completed' ? (run.conclusion ?? 'completed') : (run.status ?? 'unknown'));

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

function runLinks(runs: readonly WorkflowRun[]): string {
  return [...runs]
    .sort(newestFirst)
    .slice(0, 10)
    .map((run) => `\n- #${run.run_number} attempt ${run.run_attempt ?? 1} ${stateOf(run)}: ${run.html_url}`)
    .join('');
}

export async function resolveBuildRun(client: GitHubClient, query: BuildRunQuery, deps: ResolveDependencies = {}): Promise<BuildRunResolution> {
  const logger = deps.logger ?? silentLogger;
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => delay(ms));
  const { owner, repo, sha } = query;
  const full = `${owner}/${repo}`;
  const results: CheckResult[] = [];
  const check = (name: string, status: CheckResult['status'], detail: string, started: number): CheckResult => {
    const result = { name, status, detail, durationMs: now() - started };
    results.push(result);
    return result;
  };
  const fail = (name: string, message: string, started: number): never => {
    check(name, 'fail', message.split('\n')[0]!, started);
    throw new BuildRunNotResolved(message, results);
  };

  /** A GitHub failure during a step becomes that step's failed check, so the summary shows where it stopped. */
  const guard = async <T>(name: string, since: number, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof UserError && !(error instanceof BuildRunNotResolved)) fail(name, error.message, since);
      throw error;
    }
  };

  if (!FULL_SHA.test(sha)) {
    throw new UserError(`"${sha}" is not a full commit SHA (40 hexadecimal characters); pass the full SHA, e.g. \${{ github.sha }}`);
  }
  const get = async (purpose: RequestPurpose, route: string, params: Record<string, unknown>) =>
    (await explained(purpose, () => client.request(route, { owner, repo, ...params }))).data;

  // 1. The workflow.
  let started = now();
  const workflow = await guard('Workflow', started, () => findWorkflow(query, get));
  const file = fileOf(workflow);
  check('Workflow', 'pass', `${file} ("${workflow.name}", id ${workflow.id})`, started);

  // 2. The runs of this commit, waiting for queued/in-progress ones when allowed.
  started = now();
  const filters = [query.branch && `branch ${query.branch}`, query.event && `event ${query.event}`].filter(Boolean).join(', ');
  const runsPurpose: RequestPurpose = { what: `runs of ${file} in ${full}`, permission: 'actions: read' };
  const listRuns = async (): Promise<WorkflowRun[]> => {
    const runs: WorkflowRun[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const data = await get(runsPurpose, 'GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs', {
        workflow_id: workflow.id,
        head_sha: sha,
        ...(query.branch ? { branch: query.branch } : {}),
        ...(query.event ? { event: query.event } : {}),
        per_page: PER_PAGE,
        page,
      });
      const list = shape(runListSchema, data, runsPurpose.what);
      runs.push(...list.workflow_runs.filter((run) => run.head_sha.toLowerCase() === sha.toLowerCase()));
      if (list.workflow_runs.length < PER_PAGE || page * PER_PAGE >= list.total_count) break;
    }
    return runs;
  };
  const concluded = (run: WorkflowRun) => run.status === 'completed' && run.conclusion === query.conclusion;
  /**
   * GitHub lists only each run's latest attempt. A re-run that failed (or is still running) can hide an earlier
   * attempt that concluded as required, so runs with re-runs newer than the newest match have their earlier
   * attempts read, newest first. Completed attempts never change, so each is read once.
   */
  const attempts = new Map<string, WorkflowRun | null>();
  const attemptPurpose = (run: WorkflowRun): RequestPurpose => ({ what: `attempts of run #${run.run_number} (${run.id}) in ${full}`, permission: 'actions: read' });
  let attemptReads = 0;
  const readAttempt = async (run: WorkflowRun, attempt: number): Promise<WorkflowRun | null> => {
    const key = `${run.id}/${attempt}`;
    if (attempts.has(key)) return attempts.get(key)!;
    if (attemptReads >= MAX_ATTEMPT_READS) return null;
    attemptReads++;
    let found: WorkflowRun | null;
    try {
      const data = await get(attemptPurpose(run), 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}', { run_id: run.id, attempt_number: attempt });
      found = shape(runSchema, data, attemptPurpose(run).what);
    } catch (error) {
      // Reading earlier attempts is a best effort on top of the run list (which already succeeded): an attempt
      // GitHub no longer has, or a server without this endpoint, counts as not concluded as required.
      if (!(error instanceof UserError)) throw error;
      logger.debug(`Could not read attempt ${attempt} of run #${run.run_number}: ${error.message}`);
      found = null;
    }
    if (found && found.head_sha.toLowerCase() !== sha) found = null;
    if (found === null || found.status === 'completed') attempts.set(key, found);
    return found;
  };
  const matchingOf = async (listed: WorkflowRun[]): Promise<WorkflowRun[]> => {
    const matches = listed.filter(concluded).sort(newestFirst);
    const newest = matches[0];
    const rerun = listed.filter((run) => (run.run_attempt ?? 1) > 1 && !concluded(run) && (!newest || newestFirst(run, newest) < 0)).sort(newestFirst);
    for (const run of rerun) {
      for (let attempt = (run.run_attempt ?? 1) - 1; attempt >= 1; attempt--) {
        const earlier = await readAttempt(run, attempt);
        if (earlier && concluded(earlier)) {
          logger.info(`Run #${run.run_number} attempt ${run.run_attempt} is ${stateOf(run)}; attempt ${earlier.run_attempt ?? attempt} concluded ${query.conclusion}`);
          matches.push({ ...earlier, run_attempt: earlier.run_attempt ?? attempt });
          break;
        }
      }
    }
    return matches.sort(newestFirst);
  };
  const waitStarted = now();
  let runs = await guard('Build run', started, listRuns);
  let matching = await guard('Build run', started, () => matchingOf(runs));
  for (;;) {
    const pending = runs.filter((run) => run.status !== 'completed');
    const waited = now() - waitStarted;
    if (matching.length > 0 || pending.length === 0 || waited >= query.waitMs) break;
    const next = Math.min(query.pollIntervalMs, query.waitMs - waited);
    logger.info(
      `Waiting for ${file} ${pending.map((run) => `#${run.run_number} (${run.status})`).join(', ')} of ${short(sha)}: ${formatDuration(waited)} of ${formatDuration(query.waitMs)} waited, next check in ${formatDuration(next)}`,
    );
    await sleep(next);
    runs = await guard('Build run', started, listRuns);
    matching = await guard('Build run', started, () => matchingOf(runs));
  }
  const wanted = query.conclusion === 'success' ? 'successful run' : `run that concluded "${query.conclusion}"`;
  if (matching.length === 0) {
    const pending = runs.filter((run) => run.status !== 'completed');
    if (runs.length === 0) {
      const message = await guard('Build run', started, () => noRunsMessage(client, query, workflow, filters));
      fail('Build run', message, started);
    }
    const waitNote =
      pending.length > 0
        ? query.waitMs > 0
          ? ` after waiting ${formatDuration(now() - waitStarted)} (wait is ${formatDuration(query.waitMs)}); raise wait to give the build more time`
          : '; the build is still running: set wait (e.g. 10m) to wait for it'
        : '; re-run the build for this commit or deploy a commit whose build succeeded';
    fail('Build run', `${describeRuns(runs, file, sha)}${filters ? ` (${filters})` : ''}; no ${wanted}${waitNote}${runLinks(runs)}`, started);
  }
  let chosen = matching[0]!;
  const describeChosen = () => `#${chosen.run_number} attempt ${chosen.run_attempt ?? 1} ${query.conclusion}: ${chosen.html_url}`;
  const runCheck = check('Build run', 'pass', describeChosen(), started);

  // 3. The artifact, on the newest matching run that carries it.
  let artifact: ResolvedArtifact | undefined;
  if (query.artifactName) {
    started = now();
    const name = expandArtifactName(query.artifactName, sha);
    const seen: string[] = [];
    for (const run of matching.filter((candidate, index) => matching.findIndex((other) => other.id === candidate.id) === index)) {
      const purpose: RequestPurpose = { what: `artifacts of run #${run.run_number} (${run.id}) in ${full}`, permission: 'actions: read' };
      const data = await guard('Artifact', started, () => get(purpose, 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts', { run_id: run.id, name, per_page: PER_PAGE }));
      const named = shape(artifactListSchema, data, purpose.what).artifacts.filter((candidate) => candidate.name === name);
      const live = named.filter((candidate) => !candidate.expired).sort((a, b) => b.id - a.id)[0];
      if (live) {
        artifact = toArtifact(live);
        if (run !== chosen) logger.info(`Run #${chosen.run_number} has no artifact "${name}"; using run #${run.run_number}, which has it`);
        chosen = run;
        break;
      }
      const expired = named.find((candidate) => candidate.expired);
      seen.push(
        expired
          ? `run #${run.run_number} (${run.html_url}): "${name}" expired${expired.expires_at ? ` at ${expired.expires_at}` : ''}`
          : `run #${run.run_number} (${run.html_url}): no artifact named "${name}"`,
      );
    }
    if (!artifact) {
      fail(
        'Artifact',
        `No live artifact "${name}" on the ${wanted}${matching.length === 1 ? '' : 's'} of ${file} for ${short(sha)}:\n- ${seen.join('\n- ')}\nRe-run the build for this commit to upload it again (expired artifacts cannot be restored), or check artifact-name against the name the build uploads.`,
        started,
      );
    }
    const found = artifact!;
    check('Artifact', 'pass', `${found.name} (id ${found.id}, ${found.sizeInBytes} bytes${found.digest ? `, ${found.digest}` : ''}) on run #${chosen.run_number}`, started);
    runCheck.detail = describeChosen(); // the artifact may have chosen an older run of the commit
  }

  // 4. For promotions: the environment runs this SHA, healthily, long enough.
  let environment: EnvironmentEvidence | undefined;
  if (query.requireEnvironment) {
    started = now();
    const since = started;
    environment = await guard('Environment', since, () => checkEnvironment(get, query, now, (message) => fail('Environment', message, since)));
    check(
      'Environment',
      'pass',
      `${environment.environment} runs ${short(sha)} successfully since ${environment.successSince} (${formatDuration(environment.ageMs)}${
        query.minAgeMs ? `, needs ${formatDuration(query.minAgeMs)}` : ''
      })`,
      started,
    );
  }

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
    results,
  };
}

type Get = (purpose: RequestPurpose, route: string, params: Record<string, unknown>) => Promise<unknown>;

function toArtifact(artifact: Artifact): ResolvedArtifact {
  return {
    id: artifact.id,
    name: artifact.name,
    sizeInBytes: artifact.size_in_bytes,
    // Only a digest GitHub actually reports (upload-artifact v4+), in its `sha256:<hex>` form.
    digest: artifact.digest && /^sha256:[0-9a-f]{64}$/i.test(artifact.digest) ? artifact.digest.toLowerCase() : undefined,
    expiresAt: artifact.expires_at ?? undefined,
  };
}

async function listWorkflows(query: BuildRunQuery, get: Get): Promise<Workflow[]> {
  const purpose: RequestPurpose = { what: `workflows of ${query.owner}/${query.repo}`, permission: 'actions: read', notFound: `Repository ${query.owner}/${query.repo} not found` };
  const all: Workflow[] = [];
  for (let page = 1; page <= 20; page++) {
    const list = shape(workflowListSchema, await get(purpose, 'GET /repos/{owner}/{repo}/actions/workflows', { per_page: PER_PAGE, page }), purpose.what);
    all.push(...list.workflows);
    if (list.workflows.length < PER_PAGE || all.length >= list.total_count) break;
  }
  return all;
}

const listing = (workflows: readonly Workflow[]) =>
  workflows.length === 0 ? 'it has no workflows' : `its workflows: ${workflows.map((wf) => `${fileOf(wf)} ("${wf.name}")`).join(', ')}`;

async function findWorkflow(query: BuildRunQuery, get: Get): Promise<Workflow> {
  const full = `${query.owner}/${query.repo}`;
  const byFileOrId = /^\d+$/.test(query.workflow) || /\.ya?ml$/i.test(query.workflow);
  if (byFileOrId) {
    const id = query.workflow.split('/').pop()!;
    const purpose: RequestPurpose = { what: `workflow ${query.workflow} of ${full}`, permission: 'actions: read' };
    try {
      return shape(workflowSchema, await get(purpose, 'GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}', { workflow_id: id }), purpose.what);
    } catch (error) {
      if (!(error instanceof UserError && /answered 404/.test(error.message))) throw error;
      const workflows = await listWorkflows(query, get);
      throw new UserError(`Workflow "${query.workflow}" not found in ${full}; ${listing(workflows)}. Pass one of those file names as the workflow input.`);
    }
  }
  const workflows = await listWorkflows(query, get);
  const named = workflows.filter((wf) => wf.name === query.workflow);
  if (named.length === 1) return named[0]!;
  if (named.length > 1) {
    throw new UserError(
      `Workflow "${query.workflow}" is ambiguous in ${full}: ${named.map((wf) => `${fileOf(wf)} ("${wf.name}", id ${wf.id})`).join(', ')} — pass the file name as the workflow input, e.g. workflow: ${fileOf(named[0]!)}`,
    );
  }
  throw new UserError(`No workflow named "${query.workflow}" in ${full}; ${listing(workflows)}. Pass the file name (e.g. build-artifacts.yml) or the exact display name.`);
}

async function noRunsMessage(client: GitHubClient, query: BuildRunQuery, workflow: Workflow, filters: string): Promise<string> {
  const full = `${query.owner}/${query.repo}`;
  const file = fileOf(workflow);
  const base = `No run of ${file} for ${short(query.sha)}${filters ? ` (${filters})` : ''} in ${full}`;
  if (filters) {
    // The filters may be what excludes the build: say which runs of the commit they left out.
    try {
      const { data } = await client.request('GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs', {
        owner: query.owner,
        repo: query.repo,
        workflow_id: workflow.id,
        head_sha: query.sha,
        per_page: PER_PAGE,
      });
      const unfiltered = runListSchema.safeParse(data);
      const others = unfiltered.success ? unfiltered.data.workflow_runs.filter((run) => run.head_sha.toLowerCase() === query.sha) : [];
      if (others.length > 0) {
        const shown = [...others].sort(newestFirst).slice(0, 5).map((run) => `#${run.run_number} ${stateOf(run)} on branch ${run.head_branch ?? '(none)'} (event ${run.event})`);
        const more = unfiltered.success && unfiltered.data.total_count > shown.length ? `, … ${unfiltered.data.total_count - shown.length} more` : '';
        return `${base}; without the filters it has ${shown.join(', ')}${more}. Fix the branch/event inputs (or leave them empty): the commit's build ran under another branch or event.`;
      }
    } catch {
      // A courtesy like the commit check below; the message without it still holds.
    }
  }
  try {
    await client.request('GET /repos/{owner}/{repo}/git/commits/{commit_sha}', { owner: query.owner, repo: query.repo, commit_sha: query.sha });
  } catch (error) {
    if (isRequestError(error) && (error.status === 404 || error.status === 422)) {
      return `${base}: commit ${query.sha} does not exist in ${full}. Check the sha input: it must be a full SHA of a commit pushed to this repository.`;
    }
    // The commit check is a courtesy (it needs contents: read); without it, say what is known.
  }
  return `${base}. Did ${file} run for this commit (its on: triggers, branch and path filters)?${filters ? ' Check the branch/event filters too.' : ''} Runs: ${workflow.html_url.replace(/\/blob\/[^/]+\/\.github\/workflows\/.*$/, `/actions/workflows/${file}`)}`;
}

async function checkEnvironment(get: Get, query: BuildRunQuery, now: () => number, fail: (message: string) => never): Promise<EnvironmentEvidence> {
  const env = query.requireEnvironment!;
  const full = `${query.owner}/${query.repo}`;
  const purpose: RequestPurpose = { what: `deployments of environment "${env}" in ${full}`, permission: 'deployments: read' };
  const deployments = shape(deploymentSchema.array(), await get(purpose, 'GET /repos/{owner}/{repo}/deployments', { environment: env, per_page: 1 }), purpose.what);
  const latest: Deployment | undefined = deployments[0];
  if (!latest) return fail(`Environment "${env}" has no deployment in ${full}; deploy ${short(query.sha)} there first, or check require-environment.`);
  if (latest.sha.toLowerCase() !== query.sha.toLowerCase()) {
    return fail(
      `The latest deployment of "${env}" (id ${latest.id}, ${latest.created_at}) is for ${short(latest.sha)}, not ${short(query.sha)}: promote only what ${env} runs, or deploy ${short(query.sha)} to ${env} first.`,
    );
  }
  const statusPurpose: RequestPurpose = { what: `statuses of deployment ${latest.id} in ${full}`, permission: 'deployments: read' };
  const statuses = shape(
    deploymentStatusSchema.array(),
    await get(statusPurpose, 'GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', { deployment_id: latest.id, per_page: 1 }),
    statusPurpose.what,
  );
  const status: DeploymentStatus | undefined = statuses[0];
  if (!status) return fail(`The latest deployment of "${env}" (id ${latest.id}) for ${short(query.sha)} has no status yet; wait for it to finish.`);
  if (status.state !== 'success') {
    return fail(`The latest deployment of "${env}" (id ${latest.id}) for ${short(query.sha)} is "${status.state}" (since ${status.created_at}), not "success".`);
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
