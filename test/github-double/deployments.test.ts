import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { GitHubDouble, type RepoState } from '../support/github-double/index.js';

// The deployments writes as GitHub answers them; each request body and answer validated against @octokit/openapi.
let double: GitHubDouble;
let state: RepoState;
const SHA = 'a'.repeat(40);
const OTHER = 'b'.repeat(40);

beforeEach(async () => {
  double = await new GitHubDouble().start();
  state = double.repo('octo/app');
  state.commits.push(SHA, OTHER);
});

afterEach(async () => {
  await double.stop();
});

const post = async (path: string, body: unknown) => {
  const response = await fetch(`${double.url}/repos/octo/app${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
const deploy = (sha: string, extra: Record<string, unknown> = {}) =>
  post('/deployments', { ref: sha, environment: 'stage', auto_merge: false, required_contexts: [], ...extra });
const newest = (id: number) =>
  state.deploymentStatuses.filter((s) => s.deploymentId === id).sort((a, b) => b.id - a.id)[0]?.state;

describe('the GitHub double: deployments and their statuses', () => {
  it('creates a deployment of the commit a full SHA names, 201, and 422 for a ref it does not have', async () => {
    const created = await deploy(SHA);
    expect(created).toMatchObject({ status: 201, body: { sha: SHA, ref: SHA, environment: 'stage' } });
    const unknown = await deploy('c'.repeat(40));
    expect(unknown.status).toBe(422);
    expect(unknown.body.message).toBe(`No ref found for: ${'c'.repeat(40)}`);
    expect(double.violations).toEqual([]);
  });

  it('refuses a body GitHub would refuse (no ref, an unknown state) as a violation', async () => {
    expect((await post('/deployments', { environment: 'stage' })).status).toBe(400);
    const id = (await deploy(SHA)).body.id as number;
    expect((await post(`/deployments/${id}/statuses`, { state: 'done' })).status).toBe(400);
    expect(double.violations.map((v) => v.request)).toEqual([
      'POST /repos/octo/app/deployments',
      `POST /repos/octo/app/deployments/${id}/statuses`,
    ]);
  });

  it('answers 404 for the statuses of a deployment it does not have', async () => {
    expect((await post('/deployments/999999/statuses', { state: 'success' })).status).toBe(404);
    expect(double.violations).toEqual([]);
  });

  it('marks earlier successful deployments of the environment inactive on a success (auto_inactive)', async () => {
    const first = (await deploy(OTHER)).body.id as number;
    await post(`/deployments/${first}/statuses`, { state: 'success' });
    const production = (await deploy(OTHER, { production_environment: true })).body.id as number;
    await post(`/deployments/${production}/statuses`, { state: 'success' });
    const second = (await deploy(SHA)).body.id as number;
    await post(`/deployments/${second}/statuses`, { state: 'success' });
    expect([newest(first), newest(production), newest(second)]).toEqual(['inactive', 'success', 'success']);
    const third = (await deploy(OTHER)).body.id as number;
    await post(`/deployments/${third}/statuses`, { state: 'success', auto_inactive: false });
    expect(newest(second)).toBe('success');
    expect(double.violations).toEqual([]);
  });
});
