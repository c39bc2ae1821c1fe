import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { BuildRunNotResolved, resolveBuildRun } from '#core/build-run/resolve.js';
import { createGitHubClient, type GitHubClientOptions } from '#core/github/client.js';
import { GitHubUnavailable, GitHubUnexpectedResponse } from '#core/github/errors.js';
import { getWorkflow, listWorkflows } from '#core/github/queries.js';
import { UserError } from '#core/errors.js';
import { GitHubDouble, workflow } from '../support/github-double/index.js';

/** How the client tells an API that cannot be used: stalled, unreachable, answering nonsense or too much. */
const REPO = { owner: 'octo', repo: 'app' };
const WF = { id: 101, name: 'Build Artifacts', file: 'build-artifacts.yml' };
const SHA = '62584375aa1b2c3d4e5f60718293a4b5c6d7e8f9';
let double: GitHubDouble;

beforeEach(async () => {
  double = await new GitHubDouble().start();
  double.repo('octo/app').workflows.push(WF);
});

afterEach(async () => {
  await double.stop();
});

const client = (options: Partial<GitHubClientOptions> = {}) =>
  createGitHubClient({ token: 't0ken', baseUrl: double.url, retryUnitMs: 1, ...options });
const rejection = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
};

describe('GitHub client: timeouts, connections, response checks and size', () => {
  it('fails a stalled API after the timeout, naming the request, without retrying it', async () => {
    await listWorkflows(client(), REPO); // loads GitHub's description in the double first, so the clock measures the client
    let arrived = 0;
    double.onRequest = () => arrived++;
    double.inject({ kind: 'slow', delayMs: 10_000 }, { times: 10 });
    const started = performance.now();
    const error = await rejection(listWorkflows(client({ timeoutMs: 150 }), REPO));
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(GitHubUnavailable);
    expect(error.message).toMatch(
      /^GitHub did not answer GET http:\/\/127\.0\.0\.1:\d+\/repos\/octo\/app\/actions\/workflows\?per_page=100&page=1 within 150ms \(the request timeout\): the API at http:\/\/127\.0\.0\.1:\d+ is stalled/,
    );
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(2_000);
    expect(arrived).toBe(1);
  });

  it('reports a refused connection as "could not connect", not as an answer from GitHub', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await rejection(
      listWorkflows(createGitHubClient({ token: 't0ken', baseUrl: `http://127.0.0.1:${port}`, retryUnitMs: 1 }), REPO),
    );
    expect(error).toBeInstanceOf(GitHubUnavailable);
    expect(error.message).toMatch(
      new RegExp(
        `^Could not connect to http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\) for GET http://127\\.0\\.0\\.1:${port}/repos/octo/app/actions/workflows`,
      ),
    );
    expect(error.message).not.toMatch(/answered 500/);
  });

  it('tells a malformed answer as an unexpected response (a user error), naming what was read and the problems', async () => {
    double.inject({ kind: 'raw', status: 200, body: { ...workflow('octo/app', WF), id: 'abc' } });
    const error = await rejection(getWorkflow(client(), REPO, 101));
    expect(error).toBeInstanceOf(GitHubUnexpectedResponse);
    expect(error.message).toMatch(
      /^GitHub returned an unexpected response for workflow 101 of octo\/app \(GET http:\/\/127\.0\.0\.1:\d+\/repos\/octo\/app\/actions\/workflows\/101\): id: /,
    );
    expect(double.violations.map((violation) => violation.problems)).toEqual([['/id must be integer']]);
  });

  it('fails the step where a malformed answer arrives, with the checks so far', async () => {
    double.repo('octo/app').runs.push({ id: 812, workflowId: 101, headSha: SHA });
    double.inject(
      { kind: 'raw', status: 200, body: { total_count: 1, workflow_runs: [{ id: 'abc', head_sha: SHA }] } },
      { match: /\/runs$/ },
    );
    const query = {
      ...REPO,
      workflow: 'build-artifacts.yml',
      sha: SHA,
      conclusion: 'success',
      waitMs: 0,
      pollIntervalMs: 10,
    };
    const error = await rejection(resolveBuildRun(client(), query));
    expect(error).toBeInstanceOf(BuildRunNotResolved);
    expect(error.message).toMatch(
      /^GitHub returned an unexpected response for runs of build-artifacts\.yml in octo\/app \(GET .*\): workflow_runs\.0\.id: /,
    );
    expect((error as BuildRunNotResolved).results.map((result) => [result.name, result.status])).toEqual([
      ['Workflow', 'pass'],
      ['Build run', 'fail'],
    ]);
  });

  it('fails the step when an earlier attempt cannot be read in time, instead of taking it as not successful', async () => {
    double.repo('octo/app').runs.push({
      id: 900,
      workflowId: 101,
      headSha: SHA,
      runNumber: 900,
      runAttempt: 2,
      conclusion: 'failure',
      previousAttempts: [{ conclusion: 'success' }],
    });
    double.inject({ kind: 'slow', delayMs: 10_000 }, { match: /\/attempts\/1$/ });
    const query = {
      ...REPO,
      workflow: 'build-artifacts.yml',
      sha: SHA,
      conclusion: 'success',
      waitMs: 0,
      pollIntervalMs: 10,
    };
    const error = await rejection(resolveBuildRun(client({ timeoutMs: 150 }), query));
    expect(error).toBeInstanceOf(BuildRunNotResolved);
    expect(error.message).toMatch(/^GitHub did not answer GET .*\/actions\/runs\/900\/attempts\/1 within 150ms/);
    expect((error as BuildRunNotResolved).results.at(-1)).toMatchObject({ name: 'Build run', status: 'fail' });
  });

  it('refuses an answer larger than 10 MiB by default, and one over a smaller limit', async () => {
    double.inject({
      kind: 'raw',
      status: 200,
      body: { total_count: 0, workflows: [], padding: 'x'.repeat(11 * 1024 * 1024) },
    });
    const error = await rejection(listWorkflows(client(), REPO));
    expect(error).toBeInstanceOf(GitHubUnavailable);
    expect(error.message).toMatch(
      /^GitHub's answer to GET http:\/\/127\.0\.0\.1:\d+\/repos\/octo\/app\/actions\/workflows\?per_page=100&page=1 is larger than 10 MiB, the limit for one API response/,
    );
    const small = await rejection(listWorkflows(client({ maxResponseBytes: 128 }), REPO));
    expect(small.message).toContain('is larger than 128 bytes');
    expect((await listWorkflows(client({ maxResponseBytes: 4096 }), REPO)).map((wf) => wf.id)).toEqual([101]);
  });
});
