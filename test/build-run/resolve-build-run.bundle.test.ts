import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFileCommands } from '../../packages/cli/src/workflow-commands.js';
import { GitHubDouble } from '../support/github-double/index.js';
import { distFile, node24 } from '../support/paths.js';

/** Runs dist/resolve-build-run/index.js the way the runner does: node24, INPUT_* env, file commands, GITHUB_API_URL. */
const SHA = '62584375aa1b2c3d4e5f60718293a4b5c6d7e8f9';
const TOKEN = 'ghs_bundleSecretToken42';
const DIGEST = `sha256:${'cd'.repeat(32)}`;

let double: GitHubDouble;
let temp: string;

beforeAll(async () => {
  double = await new GitHubDouble('/api/v3').start();
  double.token = TOKEN;
  const state = double.repo('octo/app');
  state.workflows.push({ id: 101, name: 'Build Artifacts', file: 'build-artifacts.yml' }, { id: 102, name: 'Build Artifacts', file: 'legacy.yml' });
  state.runs.push(
    { id: 813, workflowId: 101, headSha: SHA, runNumber: 813, runAttempt: 2, createdAt: '2026-11-23T08:30:00Z' },
    { id: 812, workflowId: 101, headSha: SHA, runNumber: 812, conclusion: 'failure', createdAt: '2026-11-23T08:00:00Z' },
  );
  state.artifacts.push({ id: 77, runId: 813, name: `deployment-bundle-${SHA}`, sizeInBytes: 52_428, digest: DIGEST, expiresAt: '2026-12-23T08:35:00Z' });
  temp = await mkdtemp(join(tmpdir(), 'resolve-build-run-bundle-'));
});

afterAll(async () => {
  await double.stop();
  await rm(temp, { recursive: true, force: true });
  expect(double.violations).toEqual([]);
});

async function runBundle(inputs: Record<string, string>) {
  const files = { GITHUB_OUTPUT: join(temp, 'output'), GITHUB_STEP_SUMMARY: join(temp, 'summary') };
  await Promise.all(Object.values(files).map((file) => writeFile(file, '')));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GITHUB_ACTIONS: 'true',
    GITHUB_API_URL: double.url,
    GITHUB_REPOSITORY: 'octo/app',
    GITHUB_SHA: SHA,
    RUNNER_TEMP: temp,
    ...files,
    // The defaults action.yml gives through expressions, as the runner would evaluate them.
    'INPUT_GITHUB-TOKEN': TOKEN,
    INPUT_SHA: SHA,
    INPUT_REPOSITORY: 'octo/app',
    ...Object.fromEntries(Object.entries(inputs).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value])),
  };
  const child = spawn(node24, [distFile('resolve-build-run')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const code = await new Promise<number>((done) => child.on('close', (exit) => done(exit ?? 1)));
  return {
    code,
    log,
    outputs: Object.fromEntries(parseFileCommands(await readFile(files.GITHUB_OUTPUT, 'utf8'))),
    summary: await readFile(files.GITHUB_STEP_SUMMARY, 'utf8'),
  };
}

describe('dist/resolve-build-run/index.js on node24 against the GitHub double (GHES-style GITHUB_API_URL)', () => {
  it('resolves run and artifact, writes every output and the evidence', async () => {
    const before = double.requests.length;
    const result = await runBundle({ workflow: 'build-artifacts.yml', 'artifact-name': 'deployment-bundle-{sha}' });
    // The runner is told to mask the token (::add-mask::); no other line may carry it.
    expect(result.log).toContain(`::add-mask::${TOKEN}`);
    expect(result.log.split('\n').filter((line) => !line.startsWith('::add-mask::') && line.includes(TOKEN))).toEqual([]);
    expect(result.code).toBe(0);
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
      'artifact-expires-at': '2026-12-23T08:35:00Z',
    });
    expect(result.summary).toContain('Build run: 3/3 PASSED');
    expect(result.summary).toContain(DIGEST);
    expect(double.requests.length - before).toBe(3);
  });

  it('fails on an ambiguous display name, writing no output', async () => {
    const result = await runBundle({ workflow: 'Build Artifacts' });
    expect(result.code).not.toBe(0);
    expect(result.log).toContain('::error::Workflow "Build Artifacts" is ambiguous in octo/app: build-artifacts.yml');
    expect(result.log).toContain('legacy.yml');
    expect(result.outputs).toEqual({});
    expect(result.summary).toContain('FAILED');
  });

  it('rejects an abbreviated sha input before calling GitHub', async () => {
    const before = double.requests.length;
    const result = await runBundle({ workflow: 'build-artifacts.yml', sha: '6258437' });
    expect(result.code).not.toBe(0);
    expect(result.log).toContain('Input "sha": "6258437" is an abbreviated SHA (7 characters)');
    expect(double.requests.length).toBe(before);
    expect(result.outputs).toEqual({});
  });
});
