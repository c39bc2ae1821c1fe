import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GitHubDouble } from '../support/github-double/index.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';

const SHA = '62584375aa1b2c3d4e5f60718293a4b5c6d7e8f9';
const TOKEN = 'ghs_bundleSecretToken42';
const DIGEST = `sha256:${'cd'.repeat(32)}`;
/** 30 days ahead of the real clock: the action treats an artifact past its expires_at as expired. */
const LIVE_UNTIL = new Date(Date.now() + 30 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');

let double: GitHubDouble;

beforeAll(async () => {
  double = await new GitHubDouble('/api/v3').start();
  double.token = TOKEN;
  const state = double.repo('octo/app');
  state.workflows.push(
    { id: 101, name: 'Build Artifacts', file: 'build-artifacts.yml' },
    { id: 102, name: 'Build Artifacts', file: 'legacy.yml' },
  );
  state.runs.push(
    { id: 813, workflowId: 101, headSha: SHA, runNumber: 813, runAttempt: 2, createdAt: '2026-11-23T08:30:00Z' },
    {
      id: 812,
      workflowId: 101,
      headSha: SHA,
      runNumber: 812,
      conclusion: 'failure',
      createdAt: '2026-11-23T08:00:00Z',
    },
  );
  state.artifacts.push({
    id: 77,
    runId: 813,
    name: `deployment-bundle-${SHA}`,
    sizeInBytes: 52_428,
    digest: DIGEST,
    expiresAt: LIVE_UNTIL,
  });
});

afterAll(async () => {
  await double.stop();
  runs.splice(0).forEach(cleanup);
  expect(double.violations).toEqual([]);
});

const runs: BundleRun[] = [];
/** The step as the runner starts it: `${{ github.* }}` defaults from these variables, GHES-style API URL. */
async function step(inputs: Record<string, string>): Promise<BundleRun> {
  const run = await runBundle('resolve-build-run', inputs, {
    GITHUB_API_URL: double.url,
    GITHUB_REPOSITORY: 'octo/app',
    GITHUB_SHA: SHA,
    GITHUB_TOKEN: TOKEN,
  });
  runs.push(run);
  return run;
}

describe('dist/resolve-build-run/index.js on node24 against the GitHub double (GHES-style GITHUB_API_URL)', () => {
  it('resolves run and artifact, writes every output and the evidence', async () => {
    const before = double.requests.length;
    const result = await step({ workflow: 'build-artifacts.yml', 'artifact-name': 'deployment-bundle-{sha}' });
    // The runner is told to mask the token (::add-mask::); no other line may carry it.
    expect(result.log).toContain(`::add-mask::${TOKEN}`);
    expect(result.log.split('\n').filter((line) => !line.startsWith('::add-mask::') && line.includes(TOKEN))).toEqual(
      [],
    );
    expect(result.exitCode).toBe(0);
    expect(result.outputs).toEqual({
      'run-id': '813',
      'run-url': 'https://github.example/octo/app/actions/runs/813',
      'run-attempt': '2',
      'run-number': '813',
      'head-sha': SHA,
      'created-at': '2026-11-23T08:30:00Z',
      'artifact-id': '77',
      'artifact-name': `deployment-bundle-${SHA}`,
      'artifact-size': '52428',
      'artifact-digest': DIGEST,
      'artifact-expires-at': LIVE_UNTIL,
      report: join(result.runnerTemp, 'deploy-gates/resolve-build-run-report.json'),
    });
    expect(JSON.parse(readFileSync(result.outputs.report!, 'utf8'))).toMatchObject({
      action: 'resolve-build-run',
      stage: 'resolve',
      ok: true,
      sha: SHA.toLowerCase(),
      details: { run: { id: 813 } },
    });
    expect(result.summary).toContain('Build run: 3/3 PASSED');
    expect(result.summary).toContain(DIGEST);
    expect(double.requests.length - before).toBe(3);
  });

  it('accepts a pasted .github/workflows/ path and an upper-case GITHUB_SHA', async () => {
    const result = await runBundle(
      'resolve-build-run',
      { workflow: '.github/workflows/build-artifacts.yml' },
      {
        GITHUB_API_URL: double.url,
        GITHUB_REPOSITORY: 'octo/app',
        GITHUB_SHA: SHA.toUpperCase(),
        GITHUB_TOKEN: TOKEN,
      },
    );
    runs.push(result);
    expect(result.exitCode).toBe(0);
    expect(result.outputs).toMatchObject({ 'run-id': '813', 'run-attempt': '2', 'head-sha': SHA });
  });

  it('falls back to GITHUB_TOKEN when github-token is empty, masking it, and fails clearly without either', async () => {
    const env = { GITHUB_API_URL: double.url, GITHUB_REPOSITORY: 'octo/app', GITHUB_SHA: SHA };
    const fallback = await runBundle(
      'resolve-build-run',
      { workflow: 'build-artifacts.yml', 'github-token': '' },
      { ...env, GITHUB_TOKEN: TOKEN },
    );
    const none = await runBundle('resolve-build-run', { workflow: 'build-artifacts.yml', 'github-token': '' }, env);
    runs.push(fallback, none);
    expect(fallback.exitCode).toBe(0);
    expect(fallback.log).toContain(`::add-mask::${TOKEN}`);
    expect(fallback.outputs['run-id']).toBe('813');
    expect(none.exitCode).not.toBe(0);
    expect(none.log).toContain('Input "github-token": is empty and GITHUB_TOKEN is not set');
    expect(none.outputs).toEqual({});
  });

  it('puts a refused deployments read into the summary as the failed step, writing no output', async () => {
    double.inject({ kind: 'forbidden', permission: 'deployments=read' }, { times: 1, match: /\/deployments$/ });
    const result = await step({ workflow: 'build-artifacts.yml', 'require-environment': 'staging' });
    expect(result.exitCode).not.toBe(0);
    expect(result.outputs).toEqual({ report: expect.stringMatching(/resolve-build-run-report\.json$/) }); // no run id
    expect(result.log).toContain('::error::The token may not read deployments of environment "staging" in octo/app');
    expect(result.summary).toContain('Build run: FAILED (2/3 passed, 1 failed)');
    // Backticks are escaped in the summary (shown, not a code span).
    expect(result.summary).toMatch(
      /\| Environment \| ❌ fail \| The token may not read deployments.*\\`permissions: \{ deployments: read \}\\`/,
    );
  });

  it('fails on an ambiguous display name, writing no output', async () => {
    const result = await step({ workflow: 'Build Artifacts' });
    expect(result.exitCode).not.toBe(0);
    expect(result.log).toContain('::error::Workflow "Build Artifacts" is ambiguous in octo/app: build-artifacts.yml');
    expect(result.log).toContain('legacy.yml');
    expect(result.outputs).toEqual({ report: expect.stringMatching(/resolve-build-run-report\.json$/) }); // no run id
    expect(result.summary).toContain('FAILED');
  });

  it('never takes a newer pull_request run of the commit (it built a merge ref) unless event asks for it, and names the event', async () => {
    const state = double.repo('octo/app');
    state.runs.push({
      id: 820,
      workflowId: 101,
      headSha: SHA,
      runNumber: 820,
      event: 'pull_request',
      branch: 'feature',
      headRepository: 'mallory/app',
      createdAt: '2026-11-23T09:00:00Z',
    });
    state.artifacts.push({ id: 88, runId: 820, name: `deployment-bundle-${SHA}`, expiresAt: LIVE_UNTIL });
    try {
      const chosen = await step({ workflow: 'build-artifacts.yml', 'artifact-name': 'deployment-bundle-{sha}' });
      expect(chosen.exitCode).toBe(0);
      expect(chosen.outputs).toMatchObject({ 'run-id': '813', 'artifact-id': '77' });
      expect(chosen.summary).toMatch(/\| Run event \| push on branch main \|/);
      expect(chosen.log).toContain('Left out 1 pull request run(s) of 62584375… (#820 pull_request)');
      const asked = await step({ workflow: 'build-artifacts.yml', event: 'pull_request' });
      expect(asked.outputs).toMatchObject({ 'run-id': '820' });
    } finally {
      state.runs.pop();
      state.artifacts.pop();
    }
  });

  it('rejects an abbreviated sha input before calling GitHub', async () => {
    const before = double.requests.length;
    const result = await step({ workflow: 'build-artifacts.yml', sha: '6258437' });
    expect(result.exitCode).not.toBe(0);
    expect(result.log).toContain('Input "sha": "6258437" is an abbreviated SHA (7 characters)');
    expect(double.requests.length).toBe(before);
    expect(result.outputs).toEqual({});
  });
});
