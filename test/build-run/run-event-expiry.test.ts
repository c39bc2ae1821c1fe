import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { BuildRunNotResolved, resolveBuildRun, type BuildRunQuery } from '#core/build-run/resolve.js';
import { renderResolution } from '#core/build-run/render.js';
import { createGitHubClient } from '#core/github/client.js';
import { MemoryLogger } from '#core/logger.js';
import { GitHubDouble, type RepoState } from '../support/github-double/index.js';

/**
 * The build of exactly this commit (audit findings D4, D7): a pull_request run reports the pull request's head as
 * head_sha but built the merge ref, so it is not taken unless asked for; an artifact past its expires_at is expired
 * even while GitHub's `expired` flag (set by a background job) still says false.
 */
const SHA = '62584375aa1b2c3d4e5f60718293a4b5c6d7e8f9';
const NOW = Date.parse('2026-12-04T12:00:00Z');
let double: GitHubDouble;
let state: RepoState;

const resolve = (over: Partial<BuildRunQuery> = {}, logger = new MemoryLogger()) =>
  resolveBuildRun(
    createGitHubClient({ token: 'ghs_t', baseUrl: double.url, retryUnitMs: 1 }),
    {
      owner: 'octo',
      repo: 'app',
      workflow: 'build-artifacts.yml',
      sha: SHA,
      conclusion: 'success',
      waitMs: 0,
      pollIntervalMs: 10,
      ...over,
    },
    { logger, now: () => NOW },
  );
const rejection = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BuildRunNotResolved);
  return error as BuildRunNotResolved;
};

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

describe('resolveBuildRun: pull request runs did not build this commit', () => {
  const pullRequestRun = {
    id: 901,
    workflowId: 101,
    headSha: SHA,
    runNumber: 901,
    event: 'pull_request',
    branch: 'feature',
    headRepository: 'mallory/app',
    createdAt: '2026-11-23T09:00:00Z',
  };

  it('takes the push run of the commit over a newer pull_request run from a fork, and says which event it had', async () => {
    state.runs.push(
      { id: 900, workflowId: 101, headSha: SHA, runNumber: 900, event: 'push', branch: 'feature' },
      pullRequestRun,
    );
    state.artifacts.push({ id: 9000, runId: 900, name: 'bundle' }, { id: 9010, runId: 901, name: 'bundle' });
    const logger = new MemoryLogger();
    const result = await resolve({ artifactName: 'bundle' }, logger);
    expect(result.run).toMatchObject({ id: 900, event: 'push' });
    expect(result.artifact?.id).toBe(9000);
    expect(result.results.find((check) => check.name === 'Build run')!.detail).toContain('(event push on feature)');
    expect(logger.lines.map((line) => line.message)).toContain(
      'Left out 1 pull request run(s) of 62584375… (#901 pull_request): they built a merge ref, not this commit',
    );
    const rendered = renderResolution(result, SHA, 'octo/app');
    expect(rendered.facts).toContainEqual(['Run event', 'push on branch feature']);
    expect(rendered.verdict).toContain('event push');
  });

  it('fails, saying why, when the commit has only pull request runs; uses them when event asks for it', async () => {
    state.runs.push(pullRequestRun, { ...pullRequestRun, id: 902, runNumber: 902, event: 'pull_request_target' });
    const error = await rejection(resolve());
    expect(error.message).toContain('2 runs of build-artifacts.yml for 62584375…');
    expect(error.message).toContain('all of event pull_request, pull_request_target');
    expect(error.message).toContain('not used unless the event input asks for that event');
    const asked = await resolve({ event: 'pull_request' });
    expect(asked.run).toMatchObject({ id: 901, event: 'pull_request' });
  });
});

describe('resolveBuildRun: expiry by expires_at', () => {
  beforeEach(() => {
    state.runs.push({ id: 812, workflowId: 101, headSha: SHA, runNumber: 812 });
  });

  it('an artifact past its expires_at is expired although GitHub still says expired: false', async () => {
    state.artifacts.push({ id: 77, runId: 812, name: 'bundle', expired: false, expiresAt: '2026-01-01T00:00:00Z' });
    const error = await rejection(resolve({ artifactName: 'bundle' }));
    expect(error.message).toContain(`"bundle" expired at 2026-01-01T00:00:00Z (GitHub's expired flag not set yet)`);
  });

  it('still takes an artifact whose expires_at is ahead', async () => {
    state.artifacts.push({ id: 78, runId: 812, name: 'bundle', expiresAt: '2026-12-05T00:00:00Z' });
    expect((await resolve({ artifactName: 'bundle' })).artifact).toMatchObject({ id: 78 });
  });
});
