import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { GitHubDouble, validateResponse, workflow } from '../support/github-double/index.js';

let double: GitHubDouble;

beforeEach(async () => {
  double = await new GitHubDouble().start();
  const state = double.repo('octo/app');
  state.workflows.push({ id: 101, name: 'Build Artifacts', file: 'build-artifacts.yml' });
  for (let i = 0; i < 45; i++)
    state.runs.push({
      id: i + 1,
      workflowId: 101,
      headSha: 'a'.repeat(40),
      runNumber: i + 1,
      createdAt: `2026-11-23T08:${String(i).padStart(2, '0')}:00Z`,
    });
});

afterEach(async () => {
  await double.stop();
});

const get = (path: string) => fetch(`${double.url}${path}`);

describe('the GitHub REST double', () => {
  it('pages like GitHub, with Link headers, and logs every request', async () => {
    const first = await get('/repos/octo/app/actions/workflows/build-artifacts.yml/runs?per_page=20');
    const body = (await first.json()) as { total_count: number; workflow_runs: { id: number }[] };
    expect(body.total_count).toBe(45);
    expect(body.workflow_runs.map((run) => run.id).slice(0, 3)).toEqual([45, 44, 43]);
    expect(first.headers.get('link')).toBe(
      `<${double.url}/repos/octo/app/actions/workflows/build-artifacts.yml/runs?per_page=20&page=2>; rel="next", <${double.url}/repos/octo/app/actions/workflows/build-artifacts.yml/runs?per_page=20&page=3>; rel="last"`,
    );
    const last = (await (await get('/repos/octo/app/actions/workflows/101/runs?per_page=20&page=3')).json()) as {
      workflow_runs: unknown[];
    };
    expect(last.workflow_runs).toHaveLength(5);
    expect(double.requests.map((r) => `${r.operation} ${r.status}`)).toEqual([
      'GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs 200',
      'GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs 200',
    ]);
    expect(double.violations).toEqual([]);
  });

  it('catches a response that does not fit the published schema', async () => {
    const { badge_url: _omitted, ...incomplete } = workflow('octo/app', {
      id: 101,
      name: 'Build Artifacts',
      file: 'build-artifacts.yml',
    });
    double.inject({ kind: 'raw', status: 200, body: { ...incomplete, id: 'one-o-one' } });
    await get('/repos/octo/app/actions/workflows/101');
    expect(double.violations).toHaveLength(1);
    expect(double.violations[0]!.problems).toEqual(
      expect.arrayContaining(["/ must have required property 'badge_url'", '/id must be integer']),
    );
  });

  it('validates against the operation, and error bodies against basic-error', () => {
    expect(
      validateResponse('/repos/{owner}/{repo}/actions/workflows/{workflow_id}', 'GET', 404, { message: 'Not Found' }),
    ).toEqual([]);
    expect(
      validateResponse('/repos/{owner}/{repo}/actions/workflows/{workflow_id}', 'GET', 502, { message: 42 }),
    ).toEqual(['/message must be string']);
    expect(validateResponse('/repos/{owner}/{repo}/deployments', 'GET', 200, [{ id: 1 }]).length).toBeGreaterThan(0);
  });

  it('serves rate limits with the headers GitHub sends', async () => {
    double.inject({ kind: 'primary-rate-limit', status: 429 });
    double.inject({ kind: 'secondary-rate-limit', retryAfter: 7 });
    const primary = await get('/repos/octo/app/actions/workflows');
    expect(primary.status).toBe(429);
    expect(primary.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(primary.headers.get('x-ratelimit-reset'))).toBeGreaterThan(1_700_000_000);
    const secondary = await get('/repos/octo/app/actions/workflows');
    expect(secondary.status).toBe(403);
    expect(secondary.headers.get('retry-after')).toBe('7');
    expect(((await secondary.json()) as { message: string }).message).toMatch(/secondary rate limit/);
    expect((await get('/repos/octo/app/actions/workflows')).status).toBe(200);
    expect(double.violations).toEqual([]);
  });
});
