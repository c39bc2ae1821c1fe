import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../support/paths.js';
import { actionlintFindings, ownAction, parserFindings, stepInputFindings, workflowFiles } from '../support/workflow-lint.js';

// Every workflow (.github/workflows/*.yml) and example workflow (examples/**/*.yml) must pass what GitHub checks
// before any job starts (its workflow parser), actionlint 1.7, and give this repository's actions only their inputs.
const files = workflowFiles();

describe.each(files)('%s', (file) => {
  const text = readFileSync(join(repoRoot, file), 'utf8');

  it('is valid YAML with triggers and jobs', () => {
    const workflow = parse(text) as { on: unknown; jobs: Record<string, unknown> }; // throws on a YAML error, with the line
    expect(workflow.on).toBeDefined();
    expect(Object.keys(workflow.jobs).length).toBeGreaterThan(0);
  });

  it("is accepted by GitHub's workflow parser (@actions/workflow-parser)", async () => {
    expect(await parserFindings(file, text)).toEqual([]);
  });

  it('has no actionlint finding', async () => {
    expect(await actionlintFindings(file, text)).toEqual([]);
  });

  it('gives each deploy-gates action it uses only declared inputs, and every required one', () => {
    expect(stepInputFindings(text)).toEqual([]);
  });
});

describe('the workflow checks themselves', () => {
  // The mistake ci.yml once had: `runner` is not available in a job's `env`, so GitHub rejects the whole file.
  const runnerInJobEnv = [
    'on: push',
    'jobs:',
    '  self-test:',
    '    runs-on: ubuntu-24.04',
    '    env:',
    '      RELEASES_ROOT: ${{ runner.temp }}/app',
    '    steps:',
    '      - run: echo "$RELEASES_ROOT"',
    '',
  ].join('\n');

  it("GitHub's parser rejects a context used where it is not available", async () => {
    expect(await parserFindings('bad.yml', runnerInJobEnv)).toEqual([expect.stringContaining("Unrecognized named-value: 'runner'")]);
  });

  it('actionlint (1.7, which knows ubuntu-24.04) rejects it too', async () => {
    expect(await actionlintFindings('bad.yml', runnerInJobEnv)).toEqual([expect.stringContaining('context "runner" is not allowed here')]);
    expect(await actionlintFindings('ok.yml', runnerInJobEnv.replace('${{ runner.temp }}', '/tmp'))).toEqual([]);
  });

  it('recognises the actions of this repository both as ./actions/<name> and as <owner>/deploy-gates/actions/<name>@<ref>', () => {
    expect(ownAction('./actions/health-retry')).toBe('health-retry');
    expect(ownAction('octo-org/deploy-gates/actions/release-switch@v1')).toBe('release-switch');
    expect(ownAction('octo-org/deploy-gates/actions/release-switch@0123456789abcdef0123456789abcdef01234567')).toBe('release-switch');
    expect(ownAction('actions/checkout@v5')).toBeUndefined();
    const workflow = [
      'on: workflow_call',
      'jobs:',
      '  deploy:',
      '    runs-on: ubuntu-24.04',
      '    steps:',
      '      - uses: octo-org/deploy-gates/actions/health-retry@v1',
      '        with:',
      '          url: https://example.com/health',
      '      - uses: octo-org/deploy-gates/actions/no-such-action@v1',
      '',
    ].join('\n');
    expect(stepInputFindings(workflow)).toEqual([
      'deploy: health-retry has no input "url"',
      'deploy: health-retry needs "urls"',
      'deploy: octo-org/deploy-gates/actions/no-such-action@v1 names no action of this repository (actions/no-such-action/action.yml)',
    ]);
  });
});
