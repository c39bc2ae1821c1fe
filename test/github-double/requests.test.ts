import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { GitHubDouble } from '../support/github-double/index.js';

/** The double checks requests as well as responses: what GitHub does not have is a violation, answered as one. */
let double: GitHubDouble;
const SHA = 'a'.repeat(40);
const RUNS = '/repos/octo/app/actions/workflows/101/runs';

beforeEach(async () => {
  double = await new GitHubDouble().start();
  const state = double.repo('octo/app');
  state.workflows.push({ id: 101, name: 'Build Artifacts', file: 'build-artifacts.yml' });
  state.runs.push({ id: 1, workflowId: 101, headSha: SHA });
});

afterEach(async () => {
  await double.stop();
});

const call = async (path: string, method = 'GET') => {
  const response = await fetch(`${double.url}${path}`, { method });
  return { status: response.status, message: ((await response.json()) as { message: string }).message };
};

describe('the GitHub double checks each request against the REST description', () => {
  it('serves a correct request without a violation', async () => {
    const answer = await call(
      `${RUNS}?head_sha=${SHA}&status=success&branch=main&event=push&per_page=100&page=1&exclude_pull_requests=true`,
    );
    expect(answer.status).toBe(200);
    expect(await call('/repos/octo/app/actions/workflows/build-artifacts.yml')).toMatchObject({ status: 200 });
    expect(await call('/repos/octo/app/actions/runs/1/attempts/1')).toMatchObject({ status: 200 });
    expect(double.violations).toEqual([]);
  });

  it('flags an unknown path with a 404 that says so', async () => {
    const answer = await call('/repos/octo/app/actions/workflow/101/runs');
    expect(answer.status).toBe(404);
    expect(answer.message).toContain(
      "no path of GitHub's REST description matches GET /repos/octo/app/actions/workflow/101/runs",
    );
    expect(double.violations).toEqual([
      {
        request: 'GET /repos/octo/app/actions/workflow/101/runs',
        status: 404,
        problems: [expect.stringContaining('no path')],
      },
    ]);
  });

  it('flags a misspelled query parameter, naming the declared ones', async () => {
    const answer = await call(`${RUNS}?head-sha=${SHA}`);
    expect(answer.status).toBe(400);
    expect(answer.message).toContain('unknown query parameter "head-sha"');
    expect(double.violations).toHaveLength(1);
    expect(double.violations[0]!.problems[0]).toMatch(
      /unknown query parameter "head-sha" \(.* declares .*\bhead_sha\b/,
    );
  });

  it('flags an invalid enum value and a wrongly typed parameter', async () => {
    const answer = await call(`${RUNS}?status=bogus&per_page=many`);
    expect(answer.status).toBe(400);
    expect(double.violations[0]!.problems).toEqual([
      expect.stringMatching(
        /^query parameter status "bogus" must be equal to one of the allowed values \(completed, .*success/,
      ),
      'query parameter per_page "many" must be integer',
    ]);
    await call('/repos/octo/app/actions/runs/1/attempts/latest');
    expect(double.violations[1]!.problems).toEqual(['path parameter attempt_number "latest" must be integer']);
  });

  it('flags a method the path does not have with a 405', async () => {
    const answer = await call(RUNS, 'POST');
    expect(answer.status).toBe(405);
    expect(answer.message).toContain(
      "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs has no POST in GitHub's REST description (it has GET)",
    );
    expect(double.violations).toHaveLength(1);
  });

  it('flags an operation GitHub has but the double does not serve, instead of a silent 404', async () => {
    const answer = await call('/repos/octo/app/actions/runs/1/jobs');
    expect(answer.status).toBe(404);
    expect(answer.message).toContain('not served by the GitHub double');
    expect(double.violations).toHaveLength(1);
  });

  it('flags a request outside the API prefix of a GitHub Enterprise Server double', async () => {
    const ghes = await new GitHubDouble('/api/v3').start();
    try {
      ghes.repo('octo/app').workflows.push({ id: 101, name: 'Build Artifacts', file: 'build-artifacts.yml' });
      expect((await fetch(`${ghes.url}/repos/octo/app/actions/workflows`)).status).toBe(200);
      expect((await fetch(`${ghes.url.replace(/\/api\/v3$/, '')}/repos/octo/app/actions/workflows`)).status).toBe(404);
      expect(ghes.violations).toHaveLength(1);
    } finally {
      await ghes.stop();
    }
  });
});
