import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { BuildRunNotResolved, resolveBuildRun, type BuildRunQuery } from '#core/build-run/resolve.js';
import { createGitHubClient } from '#core/github/client.js';
import { UserError } from '#core/errors.js';
import { MemoryLogger } from '#core/logger.js';
import { GitHubDouble, type RepoState } from '../support/github-double/index.js';

const REPO = 'octo/app';
const SHA = '62584375aa1b2c3d4e5f60718293a4b5c6d7e8f9';
const OTHER = 'aaaabbbbccccddddeeeeffff0000111122223333';
const WF = { id: 101, name: 'Build Artifacts', file: 'build-artifacts.yml' };
const RUNS = '/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs';

let double: GitHubDouble;
let state: RepoState;

const query = (over: Partial<BuildRunQuery> = {}): BuildRunQuery => ({
  owner: 'octo',
  repo: 'app',
  workflow: 'build-artifacts.yml',
  sha: SHA,
  conclusion: 'success',
  waitMs: 0,
  pollIntervalMs: 10,
  ...over,
});
const client = () => createGitHubClient({ token: 'ghs_testtoken123', baseUrl: double.url, retryUnitMs: 1 });
const resolve = (over: Partial<BuildRunQuery> = {}, logger = new MemoryLogger()) =>
  resolveBuildRun(client(), query(over), { logger });
const failure = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
};
const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString().replace(/\.\d+Z$/, 'Z');
/** An expiry 30 days ahead of the real clock (the resolution compares expires_at with it). */
const LIVE_UNTIL = iso(-30 * 86_400_000);

beforeEach(async () => {
  double = await new GitHubDouble().start();
  double.token = 'ghs_testtoken123';
  state = double.repo(REPO);
  state.workflows.push(WF, { id: 102, name: 'CI', file: 'ci.yml' });
});

afterEach(async () => {
  await double.stop();
  expect(double.violations).toEqual([]);
});

describe('resolveBuildRun: finding the run of exactly this commit', () => {
  it('finds the run on the first page with two requests', async () => {
    state.runs.push(
      { id: 900, workflowId: 101, headSha: OTHER, runNumber: 90, createdAt: '2026-11-23T09:00:00Z' },
      { id: 812, workflowId: 101, headSha: SHA, runNumber: 81, createdAt: '2026-11-23T08:00:00Z' },
    );
    const result = await resolve();
    expect(result.run).toMatchObject({
      id: 812,
      number: 81,
      attempt: 1,
      headSha: SHA,
      url: 'https://github.example/octo/app/actions/runs/812',
    });
    expect(result.workflow).toMatchObject({ id: 101, file: 'build-artifacts.yml', name: 'Build Artifacts' });
    expect(result.results.map((r) => [r.name, r.status])).toEqual([
      ['Workflow', 'pass'],
      ['Build run', 'pass'],
    ]);
    expect(double.requests).toHaveLength(2);
    expect(double.requestsTo(RUNS)[0]!.query.get('head_sha')).toBe(SHA);
  });

  it('finds a run older than 1,000 other runs at the same cost', async () => {
    for (let i = 0; i < 1000; i++) {
      state.runs.push({
        id: 10_000 + i,
        workflowId: 101,
        headSha: i.toString(16).padStart(40, 'b'),
        createdAt: `2026-11-23T09:${String(i % 60).padStart(2, '0')}:00Z`,
      });
    }
    state.runs.push({ id: 5, workflowId: 101, headSha: SHA, runNumber: 5, createdAt: '2026-10-01T00:00:00Z' });
    const result = await resolve();
    expect(result.run.id).toBe(5);
    expect(double.requests).toHaveLength(2);
  });

  it('accepts a numeric workflow id and a unique display name', async () => {
    state.runs.push({ id: 812, workflowId: 101, headSha: SHA });
    expect((await resolve({ workflow: '101' })).run.id).toBe(812);
    expect((await resolve({ workflow: 'Build Artifacts' })).run.id).toBe(812);
  });

  it('picks the newest successful attempt among many re-runs, across pages', async () => {
    for (let i = 0; i < 230; i++) {
      state.runs.push({
        id: 2000 + i,
        workflowId: 101,
        headSha: SHA,
        runNumber: 100 + i,
        conclusion: 'failure',
        createdAt: iso(1_000_000 - i * 1000),
      });
    }
    state.runs.push({
      id: 1500,
      workflowId: 101,
      headSha: SHA,
      runNumber: 50,
      runAttempt: 3,
      createdAt: iso(2_000_000),
    });
    const result = await resolve();
    expect(result.run).toMatchObject({ id: 1500, attempt: 3, number: 50 });
    expect(double.requestsTo(RUNS).map((r) => r.query.get('page'))).toEqual(['1', '2', '3']);
  });

  it('takes an earlier attempt that succeeded when the latest re-run failed (GitHub lists only latest attempts)', async () => {
    state.runs.push(
      { id: 700, workflowId: 101, headSha: SHA, runNumber: 700, createdAt: '2026-11-22T08:00:00Z' },
      {
        id: 900,
        workflowId: 101,
        headSha: SHA,
        runNumber: 900,
        runAttempt: 3,
        conclusion: 'failure',
        createdAt: '2026-11-23T08:00:00Z',
        previousAttempts: [{ conclusion: 'success' }, { conclusion: 'cancelled' }],
      },
    );
    const logger = new MemoryLogger();
    const result = await resolve({}, logger);
    expect(result.run).toMatchObject({ id: 900, number: 900, attempt: 1 });
    expect(
      double.requestsTo('/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}').map((r) => r.path),
    ).toEqual(['/repos/octo/app/actions/runs/900/attempts/2', '/repos/octo/app/actions/runs/900/attempts/1']);
    expect(logger.lines.map((line) => line.message)).toContain(
      'Run #900 attempt 3 is failure; attempt 1 concluded success',
    );
  });

  it('uses a successful earlier attempt while a re-run is in progress, and reads no attempts when the latest matches', async () => {
    state.runs.push({
      id: 900,
      workflowId: 101,
      headSha: SHA,
      runNumber: 900,
      runAttempt: 2,
      status: 'in_progress',
      previousAttempts: [{ conclusion: 'success' }],
    });
    expect((await resolve()).run).toMatchObject({ id: 900, attempt: 1 });
    state.runs[0]!.status = 'completed';
    const before = double.requests.length;
    expect((await resolve()).run).toMatchObject({ id: 900, attempt: 2 });
    expect(double.requests.slice(before).map((r) => r.operation)).not.toContain(
      'GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}',
    );
  });

  it('treats an attempt GitHub cannot serve as not successful, still naming the runs', async () => {
    state.runs.push({
      id: 900,
      workflowId: 101,
      headSha: SHA,
      runNumber: 900,
      runAttempt: 2,
      conclusion: 'failure',
      previousAttempts: [{ conclusion: 'success' }],
    });
    double.inject({ kind: 'status', status: 404, message: 'Not Found' }, { times: 1, match: /\/attempts\/1$/ });
    const error = await failure(resolve());
    expect(error.message).toContain('1 run of build-artifacts.yml for 62584375…: 1 failure (#900); no successful run');
  });

  it('still fails when no attempt of a re-run concluded as required, listing the runs', async () => {
    state.runs.push({ id: 900, workflowId: 101, headSha: SHA, runNumber: 900, runAttempt: 2, conclusion: 'failure' });
    const error = await failure(resolve());
    expect(error.message).toContain('1 run of build-artifacts.yml for 62584375…: 1 failure (#900); no successful run');
    expect(error.message).toContain('#900 attempt 2 failure: https://github.example/octo/app/actions/runs/900');
  });

  it('fails with what was found when only failed and running runs exist, never returning a run', async () => {
    state.runs.push(
      {
        id: 812,
        workflowId: 101,
        headSha: SHA,
        runNumber: 812,
        conclusion: 'failure',
        createdAt: '2026-11-23T08:00:00Z',
      },
      {
        id: 813,
        workflowId: 101,
        headSha: SHA,
        runNumber: 813,
        status: 'in_progress',
        createdAt: '2026-11-23T08:30:00Z',
      },
    );
    const error = await failure(resolve());
    expect(error).toBeInstanceOf(BuildRunNotResolved);
    expect(error.message).toContain(
      '2 runs of build-artifacts.yml for 62584375…: 1 failure (#812), 1 in_progress (#813); no successful run',
    );
    expect(error.message).toContain('https://github.example/octo/app/actions/runs/812');
    expect(error.message).toContain('set wait');
    expect((error as BuildRunNotResolved).results.at(-1)).toMatchObject({ name: 'Build run', status: 'fail' });
  });

  it('fails when only failed runs exist', async () => {
    state.runs.push({ id: 812, workflowId: 101, headSha: SHA, runNumber: 812, conclusion: 'failure' });
    const error = await failure(resolve());
    expect(error.message).toContain(
      '1 run of build-artifacts.yml for 62584375…: 1 failure (#812); no successful run; re-run the build',
    );
  });

  it('says when the commit does not exist, and when it exists but has no run', async () => {
    state.runs.push({ id: 1, workflowId: 101, headSha: OTHER });
    expect((await failure(resolve())).message).toMatch(/commit 62584375\w+ does not exist in octo\/app/);
    state.commits.push(SHA);
    expect((await failure(resolve())).message).toMatch(
      /No run of build-artifacts.yml for 62584375… in octo\/app\. Did build-artifacts.yml run/,
    );
  });

  it('rejects an abbreviated SHA before asking GitHub', async () => {
    expect((await failure(resolve({ sha: '6258437' }))).message).toMatch(/"6258437" is not a full commit SHA/);
    expect(double.requests).toHaveLength(0);
  });

  it('passes branch and event filters to the API', async () => {
    state.runs.push(
      { id: 1, workflowId: 101, headSha: SHA, branch: 'release', event: 'workflow_dispatch' },
      { id: 2, workflowId: 101, headSha: SHA, branch: 'main' },
    );
    expect((await resolve({ branch: 'release', event: 'workflow_dispatch' })).run.id).toBe(1);
    const filtered = (await failure(resolve({ branch: 'develop' }))).message;
    expect(filtered).toContain(
      'No run of build-artifacts.yml for 62584375… (branch develop) in octo/app; without the filters it has ',
    );
    expect(filtered).toContain('#1 success on branch release (event workflow_dispatch)');
    expect(filtered).toContain('#2 success on branch main (event push)');
    expect(filtered).toContain('Fix the branch/event inputs');
  });
});

describe('resolveBuildRun: waiting', () => {
  it('waits for a run in progress until it completes, and logs progress', async () => {
    state.runs.push({ id: 813, workflowId: 101, headSha: SHA, runNumber: 813, status: 'in_progress' });
    let polls = 0;
    double.onRequest = ({ path }) => {
      if (path.endsWith('/runs') && ++polls === 3) state.runs[0]!.status = 'completed';
    };
    const logger = new MemoryLogger();
    const result = await resolve({ waitMs: 60_000, pollIntervalMs: 5 }, logger);
    expect(result.run.id).toBe(813);
    expect(polls).toBe(3);
    expect(
      logger.lines.filter((line) => line.message.startsWith('Waiting for build-artifacts.yml #813 (in_progress)')),
    ).toHaveLength(2);
  });

  it('gives up when the wait runs out, saying so', async () => {
    state.runs.push({ id: 813, workflowId: 101, headSha: SHA, runNumber: 813, status: 'queued' });
    // A clock that moves only by the waits: how long a request takes on a loaded machine does not use up the wait.
    let clock = 0;
    const waits = { now: () => clock, sleep: async (ms: number) => void (clock += ms) };
    const error = await failure(resolveBuildRun(client(), query({ waitMs: 60, pollIntervalMs: 10 }), waits));
    expect(error.message).toMatch(
      /1 queued \(#813\); no successful run after waiting \d+ms \(wait is 60ms\); raise wait/,
    );
    expect(double.requestsTo(RUNS).length).toBe(7); // at 0, 10, …, 60 ms
  });
});

describe('resolveBuildRun: workflows by name', () => {
  it('fails on an ambiguous display name, listing each file', async () => {
    state.workflows.push({ id: 103, name: 'Build Artifacts', file: 'build-legacy.yml' });
    const error = await failure(resolve({ workflow: 'Build Artifacts' }));
    expect(error.message).toContain(
      'Workflow "Build Artifacts" is ambiguous in octo/app: build-artifacts.yml ("Build Artifacts", id 101), build-legacy.yml ("Build Artifacts", id 103) — pass the file name',
    );
  });

  it('lists the workflows when a file or name is unknown', async () => {
    expect((await failure(resolve({ workflow: 'build.yml' }))).message).toContain(
      'Workflow "build.yml" not found in octo/app; its workflows: build-artifacts.yml ("Build Artifacts"), ci.yml ("CI")',
    );
    expect((await failure(resolve({ workflow: 'Build' }))).message).toContain(
      'No workflow named "Build" in octo/app; its workflows:',
    );
  });
});

describe('resolveBuildRun: artifacts', () => {
  beforeEach(() => {
    state.runs.push({ id: 812, workflowId: 101, headSha: SHA, runNumber: 812 });
  });

  it('returns the artifact with its digest, expanding {sha} and {sha8}', async () => {
    state.artifacts.push(
      {
        id: 7,
        runId: 812,
        name: `deployment-bundle-${SHA}`,
        sizeInBytes: 4096,
        digest: `sha256:${'ab'.repeat(32)}`,
        expiresAt: LIVE_UNTIL,
      },
      { id: 8, runId: 812, name: `sbom-${SHA.slice(0, 8)}` },
    );
    const result = await resolve({ artifactName: 'deployment-bundle-{sha}' });
    expect(result.artifact).toEqual({
      id: 7,
      name: `deployment-bundle-${SHA}`,
      sizeInBytes: 4096,
      digest: `sha256:${'ab'.repeat(32)}`,
      expiresAt: LIVE_UNTIL,
    });
    expect(double.requests).toHaveLength(3);
    expect((await resolve({ artifactName: 'sbom-{sha8}' })).artifact).toMatchObject({ id: 8, digest: undefined });
  });

  it('reports a digest only in the sha256:<hex> form GitHub documents', async () => {
    state.artifacts.push(
      { id: 7, runId: 812, name: 'empty-digest', digest: '' },
      { id: 8, runId: 812, name: 'upper', digest: `SHA256:${'AB'.repeat(32)}` },
    );
    expect((await resolve({ artifactName: 'empty-digest' })).artifact).toMatchObject({ id: 7, digest: undefined });
    expect((await resolve({ artifactName: 'upper' })).artifact).toMatchObject({
      id: 8,
      digest: `sha256:${'ab'.repeat(32)}`,
    });
  });

  it('fails when the artifact is missing', async () => {
    const error = await failure(resolve({ artifactName: 'deployment-bundle-{sha}' }));
    expect(error.message).toContain(
      `No live artifact "deployment-bundle-${SHA}" on the successful run of build-artifacts.yml for 62584375…`,
    );
    expect(error.message).toContain(`run #812 (https://github.example/octo/app/actions/runs/812): no artifact named`);
  });

  it('fails when the artifact expired', async () => {
    state.artifacts.push({ id: 7, runId: 812, name: 'bundle', expired: true, expiresAt: '2026-10-01T00:00:00Z' });
    const error = await failure(resolve({ artifactName: 'bundle' }));
    expect(error.message).toContain('"bundle" expired at 2026-10-01T00:00:00Z');
    expect(error.message).toContain('Re-run the build');
  });

  it('falls back to an older successful run of the same commit that carries the artifact', async () => {
    state.runs.push({ id: 700, workflowId: 101, headSha: SHA, runNumber: 700, createdAt: '2026-11-22T08:00:00Z' });
    state.artifacts.push({ id: 9, runId: 700, name: 'bundle' });
    const result = await resolve({ artifactName: 'bundle' });
    expect(result.run.id).toBe(700);
    expect(result.artifact?.id).toBe(9);
  });
});

describe('resolveBuildRun: promotion gate (require-environment + min-age)', () => {
  beforeEach(() => {
    state.runs.push({ id: 812, workflowId: 101, headSha: SHA });
  });
  const HOUR = 3_600_000;

  it('passes when staging runs this SHA successfully for long enough', async () => {
    state.deployments.push(
      { id: 1, sha: OTHER, environment: 'staging' },
      { id: 2, sha: SHA, environment: 'staging' },
      { id: 3, sha: OTHER, environment: 'production' },
    );
    state.deploymentStatuses.push(
      { id: 10, deploymentId: 2, state: 'in_progress', createdAt: iso(3 * HOUR) },
      { id: 11, deploymentId: 2, state: 'success', createdAt: iso(2 * HOUR) },
    );
    const result = await resolve({ requireEnvironment: 'staging', minAgeMs: HOUR });
    expect(result.environment).toMatchObject({ environment: 'staging', deploymentId: 2, state: 'success' });
    expect(result.environment!.ageMs).toBeGreaterThanOrEqual(2 * HOUR);
    expect(result.results.at(-1)).toMatchObject({ name: 'Environment', status: 'pass' });
  });

  it('fails when it has not been stable long enough', async () => {
    state.deployments.push({ id: 2, sha: SHA, environment: 'staging' });
    state.deploymentStatuses.push({ id: 11, deploymentId: 2, state: 'success', createdAt: iso(10 * 60_000) });
    const error = await failure(resolve({ requireEnvironment: 'staging', minAgeMs: HOUR }));
    expect(error.message).toMatch(
      /"staging" runs 62584375… successfully since .*, only 10m\d*s?; min-age is 1h\. Promote after /,
    );
  });

  it('fails when staging runs a different SHA', async () => {
    state.deployments.push({ id: 2, sha: SHA, environment: 'staging' }, { id: 5, sha: OTHER, environment: 'staging' });
    state.deploymentStatuses.push({ id: 11, deploymentId: 5, state: 'success', createdAt: iso(2 * HOUR) });
    const error = await failure(resolve({ requireEnvironment: 'staging', minAgeMs: HOUR }));
    expect(error.message).toContain(
      'The latest deployment of "staging" (id 5, 2026-11-23T08:10:00Z) is for aaaabbbb…, not 62584375…',
    );
  });

  it('fails when the latest status is not success, or there is no deployment', async () => {
    state.deployments.push({ id: 2, sha: SHA, environment: 'staging' });
    state.deploymentStatuses.push({ id: 11, deploymentId: 2, state: 'failure', createdAt: iso(2 * HOUR) });
    expect((await failure(resolve({ requireEnvironment: 'staging' }))).message).toContain('is "failure"');
    expect((await failure(resolve({ requireEnvironment: 'production' }))).message).toContain(
      'Environment "production" has no deployment in octo/app',
    );
  });
});

describe('resolveBuildRun: API faults', () => {
  beforeEach(() => {
    state.runs.push({ id: 812, workflowId: 101, headSha: SHA });
  });

  it('retries transient 5xx answers', async () => {
    double.inject({ kind: 'status', status: 502, message: 'Bad Gateway' }, { times: 2, match: /\/runs$/ });
    expect((await resolve()).run.id).toBe(812);
    expect(double.requestsTo(RUNS).map((r) => r.status)).toEqual([502, 502, 200]);
  });

  it('gives up on a lasting 5xx with a message naming the resource', async () => {
    double.inject({ kind: 'status', status: 503, message: 'Service Unavailable' }, { times: 100, match: /\/runs$/ });
    const error = await failure(resolve());
    expect(error.message).toMatch(
      /GitHub kept failing while reading runs of build-artifacts.yml in octo\/app: GitHub answered 503/,
    );
    expect(double.requestsTo(RUNS)).toHaveLength(4);
  });

  it.each([403, 429] as const)('waits out a primary rate limit answered with %i', async (status) => {
    double.inject({ kind: 'primary-rate-limit', status }, { times: 1, match: /\/runs$/ });
    expect((await resolve()).run.id).toBe(812);
    expect(double.requestsTo(RUNS).map((r) => r.status)).toEqual([status, 200]);
  });

  it('explains a rate limit that does not lift', async () => {
    double.inject({ kind: 'primary-rate-limit', status: 403 }, { times: 100 });
    const error = await failure(resolve());
    expect(error.message).toMatch(
      /hit GitHub's primary rate limit and retries did not get through: GitHub answered 403 .*the limit resets at/,
    );
  });

  it('retries after a secondary rate limit (retry-after)', async () => {
    double.inject({ kind: 'secondary-rate-limit', retryAfter: 2 }, { times: 1, match: /\/runs$/ });
    expect((await resolve()).run.id).toBe(812);
    expect(double.requestsTo(RUNS).map((r) => r.status)).toEqual([403, 200]);
  });

  it('survives slow answers', async () => {
    double.inject({ kind: 'slow', delayMs: 200 }, { times: 2 });
    expect((await resolve()).run.id).toBe(812);
  });

  it('names the missing permission on 403', async () => {
    double.inject({ kind: 'forbidden', permission: 'actions=read' }, { times: 1, match: /\/runs$/ });
    const error = await failure(resolve());
    expect(error.message).toMatch(
      /The token may not read runs of build-artifacts.yml in octo\/app: .*Grant the job `permissions: \{ actions: read \}` \(GitHub asks for actions: read\)/,
    );
  });

  it('names deployments: read when the deployments are forbidden', async () => {
    double.inject({ kind: 'forbidden', permission: 'deployments=read' }, { times: 1, match: /\/deployments$/ });
    const error = await failure(resolve({ requireEnvironment: 'staging' }));
    expect(error.message).toContain('`permissions: { deployments: read }`');
  });

  it("records a GitHub failure after the workflow step as that step's failed check (for the summary)", async () => {
    double.inject({ kind: 'forbidden', permission: 'actions=read' }, { times: 1, match: /\/runs$/ });
    const runs = await failure(resolve());
    expect(runs).toBeInstanceOf(BuildRunNotResolved);
    expect((runs as BuildRunNotResolved).results.map((r) => [r.name, r.status])).toEqual([
      ['Workflow', 'pass'],
      ['Build run', 'fail'],
    ]);
    double.inject({ kind: 'forbidden', permission: 'actions=read' }, { times: 1, match: /\/artifacts$/ });
    const artifact = (await failure(resolve({ artifactName: 'bundle' }))) as BuildRunNotResolved;
    expect(artifact.results.at(-1)).toMatchObject({ name: 'Artifact', status: 'fail' });
    expect(artifact.message).toContain('`permissions: { actions: read }`');
    double.inject({ kind: 'forbidden', permission: 'deployments=read' }, { times: 1, match: /\/deployments$/ });
    const environment = (await failure(resolve({ requireEnvironment: 'staging' }))) as BuildRunNotResolved;
    expect(environment.results.map((r) => [r.name, r.status])).toEqual([
      ['Workflow', 'pass'],
      ['Build run', 'pass'],
      ['Environment', 'fail'],
    ]);
    expect(environment.results.at(-1)!.detail).toContain('`permissions: { deployments: read }`');
  });

  it('explains a rejected token (401)', async () => {
    double.token = 'another-token';
    const error = await failure(resolve());
    expect(error.message).toMatch(
      /GitHub rejected the token reading workflow build-artifacts.yml of octo\/app: GitHub answered 401 \(Bad credentials\).*Check the token the step was given/,
    );
    expect(error.message).not.toContain('ghs_testtoken123');
  });

  it('explains a repository it cannot see (404)', async () => {
    const error = await failure(resolveBuildRun(client(), query({ repo: 'hidden', workflow: 'Build Artifacts' })));
    expect(error.message).toMatch(/Repository octo\/hidden not found: GitHub answered 404.*needs `actions: read`/);
  });

  it('works against GitHub Enterprise Server paths (/api/v3)', async () => {
    const ghes = await new GitHubDouble('/api/v3').start();
    try {
      ghes.repo(REPO).workflows.push(WF);
      ghes.repo(REPO).runs.push({ id: 4, workflowId: 101, headSha: SHA });
      expect(ghes.url).toMatch(/\/api\/v3$/);
      const result = await resolveBuildRun(
        createGitHubClient({ token: 't0ken', baseUrl: ghes.url, retryUnitMs: 1 }),
        query(),
      );
      expect(result.run.id).toBe(4);
      expect(ghes.violations).toEqual([]);
    } finally {
      await ghes.stop();
    }
  });
});
