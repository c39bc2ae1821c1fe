import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GitHubDouble, type RepoState } from '../support/github-double/index.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';

// dist/deployment-record as deploy.yml runs it: start in the deploy job, finish in the record job.
const OLD = '1111111122222222333333334444444455555555';
const NEW = '62584375aa1b2c3d4e5f60718293a4b5c6d7e8f9';
const TOKEN = 'ghs_recordSecretToken42';

let double: GitHubDouble;
let state: RepoState;
const runs: BundleRun[] = [];

beforeAll(async () => {
  double = await new GitHubDouble().start();
  double.token = TOKEN;
  state = double.repo('octo/app');
  state.commits.push(OLD, NEW);
});

afterAll(async () => {
  await double.stop();
  runs.splice(0).forEach(cleanup);
  expect(double.violations).toEqual([]);
});

async function step(inputs: Record<string, string>): Promise<BundleRun> {
  const run = await runBundle(
    'deployment-record',
    { environment: 'stage', ...inputs },
    {
      GITHUB_API_URL: double.url,
      GITHUB_REPOSITORY: 'octo/app',
      GITHUB_TOKEN: TOKEN,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_RUN_ID: '4242',
    },
  );
  runs.push(run);
  return run;
}

describe('dist/deployment-record/index.js against the GitHub double', () => {
  it('start, then finish with a rollback: the newest deployment of stage is the commit it runs again', async () => {
    const first = await step({ mode: 'start', sha: OLD });
    expect(first.exitCode).toBe(0);
    expect(first.outputs['previous-sha']).toBeUndefined();
    expect(
      (await step({ mode: 'finish', 'deployment-id': first.outputs['deployment-id']!, outcome: 'success' })).exitCode,
    ).toBe(0);

    const started = await step({ mode: 'start', sha: NEW });
    expect(started.exitCode).toBe(0);
    expect(started.outputs['previous-sha']).toBe(OLD);
    const finished = await step({
      mode: 'finish',
      'deployment-id': started.outputs['deployment-id']!,
      outcome: 'failure',
      'rolled-back-to': `20261123_070000-${OLD.slice(0, 8)}`,
      'previous-sha': started.outputs['previous-sha']!,
    });
    expect(finished.exitCode).toBe(0);
    expect(finished.outputs['live-sha']).toBe(OLD);
    const newest = [...state.deployments].sort((a, b) => b.id - a.id)[0]!;
    expect(newest).toMatchObject({ sha: OLD, environment: 'stage', id: Number(finished.outputs['deployment-id']) });
    expect(state.deploymentStatuses.find((s) => s.deploymentId === newest.id)?.state).toBe('success');
    expect(finished.log.split('\n').filter((line) => !line.startsWith('::add-mask::') && line.includes(TOKEN))).toEqual(
      [],
    );
  });

  it('names the missing input of a mode, with an example, and creates nothing', async () => {
    const before = state.deployments.length;
    const statuses = state.deploymentStatuses.length;
    const noSha = await step({ mode: 'start' });
    const noId = await step({ mode: 'finish', outcome: 'success' });
    expect(noSha.exitCode).not.toBe(0);
    expect(noSha.log).toContain('Input "sha": is required with mode: start');
    expect(noId.log).toContain('Input "deployment-id": is required with mode: finish');
    // Past 2^53 Number() rounds: the status would go to another deployment.
    const huge = await step({ mode: 'finish', outcome: 'success', 'deployment-id': '12345678901234567891' });
    expect(huge.log).toContain('::error::Input "deployment-id": "12345678901234567891" is not a deployment id');
    const url = await step({ mode: 'start', sha: 'a'.repeat(40), 'environment-url': 'not a url' });
    expect(url.log).toContain('::error::Input "environment-url": "not a url" is not a URL');
    expect(state.deployments).toHaveLength(before);
    expect(state.deploymentStatuses).toHaveLength(statuses);
  });
});
