import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { BuildRunNotResolved, resolveBuildRun } from '#core/build-run/resolve.js';
import { createGitHubClient } from '#core/github/client.js';
import { GitHubDouble, type RepoState } from '../support/github-double/index.js';

// A run's artifact list spans its attempts. When resolve-build-run picks an earlier attempt (the latest re-run failed),
// the artifact must be that attempt's, not one a later, failed attempt uploaded in its place.
const SHA = '62584375aa1b2c3d4e5f60718293a4b5c6d7e8f9';
const NAME = `deployment-bundle-${SHA}`;

let double: GitHubDouble;
let state: RepoState;
const resolve = () =>
  resolveBuildRun(createGitHubClient({ token: 'ghs_t', baseUrl: double.url, retryUnitMs: 1 }), {
    owner: 'octo',
    repo: 'app',
    workflow: 'build-artifacts.yml',
    sha: SHA,
    conclusion: 'success',
    artifactName: 'deployment-bundle-{sha}',
    waitMs: 0,
    pollIntervalMs: 10,
  });

/** Run 900: attempt 1 succeeded at 08:00, attempt 2 (a re-run started 09:00) failed. */
function rerunFailed(previousStartedAt?: string) {
  state.runs.push({
    id: 900,
    workflowId: 101,
    headSha: SHA,
    runNumber: 900,
    runAttempt: 2,
    conclusion: 'failure',
    createdAt: '2026-11-23T08:00:00Z',
    runStartedAt: '2026-11-23T09:00:00Z',
    previousAttempts: [{ conclusion: 'success', startedAt: previousStartedAt }],
  });
}

beforeEach(async () => {
  double = await new GitHubDouble().start();
  double.token = 'ghs_t';
  state = double.repo('octo/app');
  state.workflows.push({ id: 101, name: 'Build Artifacts', file: 'build-artifacts.yml' });
});

afterEach(async () => {
  await double.stop();
  expect(double.violations).toEqual([]);
});

describe('resolveBuildRun: the artifact of the attempt it chose', () => {
  it('takes the artifact the successful earlier attempt uploaded', async () => {
    rerunFailed();
    state.artifacts.push({ id: 51, runId: 900, name: NAME, createdAt: '2026-11-23T08:05:00Z' });
    const result = await resolve();
    expect(result.run).toMatchObject({ id: 900, attempt: 1 });
    expect(result.artifact?.id).toBe(51);
  });

  it('refuses the artifact a later, failed attempt uploaded in its place, saying so', async () => {
    rerunFailed();
    state.artifacts.push({ id: 52, runId: 900, name: NAME, createdAt: '2026-11-23T09:05:00Z' });
    const error = await resolve().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildRunNotResolved);
    expect((error as Error).message).toContain(
      'its artifact (id 52, created 2026-11-23T09:05:00Z) was uploaded by a later attempt (attempt 2 started 2026-11-23T09:00:00Z), not by attempt 1',
    );
  });

  it('falls back to an older run of the commit whose artifact is its own', async () => {
    rerunFailed();
    state.runs.push({ id: 700, workflowId: 101, headSha: SHA, runNumber: 700, createdAt: '2026-11-22T08:00:00Z' });
    state.artifacts.push(
      { id: 52, runId: 900, name: NAME, createdAt: '2026-11-23T09:05:00Z' },
      { id: 41, runId: 700, name: NAME, createdAt: '2026-11-22T08:05:00Z' },
    );
    const result = await resolve();
    expect(result.run).toMatchObject({ id: 700, attempt: 1 });
    expect(result.artifact?.id).toBe(41);
  });

  it('on the latest attempt, takes an artifact an earlier attempt uploaded (re-run failed jobs keeps it)', async () => {
    state.runs.push({
      id: 900,
      workflowId: 101,
      headSha: SHA,
      runNumber: 900,
      runAttempt: 2,
      createdAt: '2026-11-23T08:00:00Z',
      runStartedAt: '2026-11-23T09:00:00Z',
    });
    state.artifacts.push({ id: 51, runId: 900, name: NAME, createdAt: '2026-11-23T08:05:00Z' });
    const result = await resolve();
    expect(result.run).toMatchObject({ id: 900, attempt: 2 });
    expect(result.artifact?.id).toBe(51);
  });

  it('fails clearly when it cannot tell which attempt uploaded the artifact', async () => {
    state.runs.push({
      id: 900,
      workflowId: 101,
      headSha: SHA,
      runNumber: 900,
      runAttempt: 3,
      conclusion: 'failure',
      createdAt: '2026-11-23T08:00:00Z',
      previousAttempts: [{ conclusion: 'success' }, { conclusion: 'failure' }],
    });
    state.artifacts.push({ id: 51, runId: 900, name: NAME, createdAt: '2026-11-23T08:05:00Z' });
    double.inject({ kind: 'status', status: 404, message: 'Not Found' }, { match: /\/attempts\/2$/ });
    const error = await resolve().catch((e: unknown) => e);
    expect((error as Error).message).toContain('cannot tell whether its artifact was uploaded by attempt 1');
  });
});
