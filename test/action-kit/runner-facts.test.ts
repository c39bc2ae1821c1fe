import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { defineAction, type ActionContext } from '#action-kit/index.js';
import { optional } from '#action-kit/inputs.js';
import { FakeRunner } from '../support/fake-runner.js';

/** context.github / context.tempDir / context.env: the runner's facts, read once by the envelope. */
let dir: string;
const saved = { ...process.env };
const RUN_ENV = {
  GITHUB_REPOSITORY: 'octo-org/app',
  GITHUB_SHA: '0123456789ABCDEF0123456789abcdef01234567',
  GITHUB_SERVER_URL: 'https://github.example.com/',
  GITHUB_RUN_ID: '4242',
  GITHUB_RUN_ATTEMPT: '2',
  GITHUB_WORKFLOW: 'Deploy',
  GITHUB_JOB: 'staging',
  GITHUB_ACTOR: 'octocat',
};
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'runner-facts-'));
  for (const name of Object.keys(process.env)) if (/^(GITHUB_|RUNNER_)/.test(name)) delete process.env[name];
  process.env.RUNNER_TEMP = dir;
});
afterEach(() => {
  process.env = { ...saved };
  rmSync(dir, { recursive: true, force: true });
});

/** Runs an action with the inputs given and returns what its main saw, and the runner. */
async function contextOf(shape: Record<string, z.ZodType<unknown, string>>, inputs: Record<string, string> = {}) {
  let seen: ActionContext | undefined;
  const runner = new FakeRunner(inputs);
  await defineAction({
    name: 'probe',
    inputs: shape,
    secrets: { 'github-token': 'value' },
    outputs: z.object({}),
    async main(_inputs, context) {
      seen = context;
      return { title: 'Probe', results: [] };
    },
  }).run(runner);
  return { context: seen!, runner };
}

describe('context.github', () => {
  it('gives repository, sha (lower-case), server URL, run URL and the run label of a workflow run', async () => {
    Object.assign(process.env, RUN_ENV);
    const { github } = (await contextOf({})).context;
    expect(github).toMatchObject({
      repository: { owner: 'octo-org', repo: 'app' },
      sha: '0123456789abcdef0123456789abcdef01234567',
      serverUrl: 'https://github.example.com',
      actor: 'octocat',
      run: { id: 4242, attempt: 2, workflow: 'Deploy', job: 'staging' },
      runUrl: 'https://github.example.com/octo-org/app/actions/runs/4242',
      runLabel: `run octo-org/app#4242/2 (Deploy / staging), host ${hostname()}, pid ${process.pid}`,
    });
  });

  it('outside a runner: no repository, sha or run, and the label is the host and pid', async () => {
    const { github } = (await contextOf({})).context;
    expect(github.repository).toBeUndefined();
    expect(github.sha).toBeUndefined();
    expect(github.run).toBeUndefined();
    expect(github.runUrl).toBeUndefined();
    expect(github.runLabel).toBe(`host ${hostname()}, pid ${process.pid}`);
  });

  it('the token: the github-token input when given, else GITHUB_TOKEN — masked before main runs', async () => {
    process.env.GITHUB_TOKEN = ' ghs_fallbackTOKEN123 ';
    const fallback = await contextOf({ 'github-token': optional() });
    expect(fallback.context.github.token).toBe('ghs_fallbackTOKEN123');
    expect(fallback.runner.secrets).toContain('ghs_fallbackTOKEN123');

    const given = await contextOf({ 'github-token': optional() }, { 'github-token': 'ghp_inputTOKEN456' });
    expect(given.context.github.token).toBe('ghp_inputTOKEN456');
    expect(given.runner.secrets).toContain('ghp_inputTOKEN456');
  });

  it('reads the event payload as @actions/github does, without loading Octokit', async () => {
    const event = join(dir, 'event.json');
    writeFileSync(event, JSON.stringify({ repository: { name: 'app', owner: { login: 'octo-org' } } }));
    Object.assign(process.env, { ...RUN_ENV, GITHUB_EVENT_PATH: event });
    delete process.env.GITHUB_REPOSITORY;
    expect((await contextOf({})).context.github.repository).toEqual({ owner: 'octo-org', repo: 'app' });
  });
});

describe('context.tempDir and context.env', () => {
  it('tempDir is RUNNER_TEMP; env reads the step environment', async () => {
    process.env.DG_PROBE_VALUE = 'from the step';
    const { context } = await contextOf({});
    expect(context.tempDir).toBe(dir);
    expect(context.env('DG_PROBE_VALUE')).toBe('from the step');
    expect(context.env('DG_PROBE_UNSET')).toBeUndefined();
  });
});
