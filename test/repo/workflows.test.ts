import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../support/paths.js';
import {
  actionlintFindings,
  ownAction,
  ownWorkflow,
  parserFindings,
  pinFindings,
  stepInputFindings,
  workflowCallFindings,
  workflowFiles,
} from '../support/workflow-lint.js';

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

  it("calls this repository's reusable workflows with declared inputs and secrets only, and every required input", () => {
    expect(workflowCallFindings(text)).toEqual([]);
  });

  it('pins every third-party action to a full commit SHA, with its version in a comment', () => {
    expect(pinFindings(file, text)).toEqual([]);
  });
});

describe('the reusable workflows', () => {
  const read = (file: string) => parse(readFileSync(join(repoRoot, file), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  it.each(['build.yml', 'deploy.yml', 'audit.yml'])(
    '%s is called with workflow_call and grants no permission at the top',
    (file) => {
      const workflow = read(`.github/workflows/${file}`);
      expect(Object.keys(workflow.on)).toContain('workflow_call');
      expect(workflow.permissions).toEqual({});
      for (const job of Object.values(workflow.jobs) as { permissions?: unknown }[])
        expect(job.permissions).toBeDefined();
    },
  );

  it("use this repository's actions as <owner>/deploy-gates/actions/<name>@<ref>, never ./actions (the caller's checkout)", () => {
    for (const file of ['build.yml', 'deploy.yml', 'audit.yml']) {
      const text = readFileSync(join(repoRoot, '.github/workflows', file), 'utf8');
      expect(text).not.toMatch(/uses:\s*\.\/actions\//);
      expect(text).toMatch(/uses: [\w.-]+\/deploy-gates\/actions\/[\w-]+@v1/);
    }
  });

  it('deploy.yml: the deploy job runs in the chosen environment, one deploy per environment, none cancelled', () => {
    const workflow = read('.github/workflows/deploy.yml');
    expect(workflow.jobs.deploy.environment).toBe('${{ inputs.environment }}');
    expect(workflow.concurrency).toEqual({
      group: 'deploy-gates-${{ inputs.environment }}',
      'cancel-in-progress': false,
    });
    expect(Object.keys(workflow.jobs)).toEqual(['resolve', 'deploy', 'smoke', 'rollback', 'evidence']);
    expect(workflow.jobs.rollback.if).toContain("needs.deploy.result == 'failure' || needs.smoke.result == 'failure'");
    expect(workflow.jobs.evidence.if).toBe('always()');
  });

  it('deploy.yml: the ledger is uploaded as deployment-ledger-<run id>', () => {
    const steps = read('.github/workflows/deploy.yml').jobs.evidence.steps as {
      uses?: string;
      with?: Record<string, string>;
    }[];
    expect(steps.find((step) => step.uses?.startsWith('actions/upload-artifact@'))?.with?.name).toBe(
      'deployment-ledger-${{ github.run_id }}',
    );
  });

  it('build.yml keeps the bundle and its checksum for 30 days', () => {
    const workflow = read('.github/workflows/build.yml');
    expect(workflow.on.workflow_call.inputs['retention-days'].default).toBe(30);
    const upload = (workflow.jobs.build.steps as { uses?: string; with?: Record<string, string> }[]).find((step) =>
      step.uses?.startsWith('actions/upload-artifact@'),
    );
    expect(upload?.with?.path).toContain('checksum-path');
  });

  it('examples: production is the same workflow behind stage running the SHA healthily for an hour', () => {
    const production = read('examples/workflows/deploy-production.yml');
    expect(production.on.workflow_dispatch.inputs.environment.options).toEqual(['dev', 'stage', 'prod']);
    expect(production.jobs.deploy.with).toMatchObject({ 'require-stable-environment': 'stage', 'min-age': '1h' });
    expect(read('examples/workflows/deploy-staging.yml').on.workflow_dispatch.inputs.environment.options).toEqual([
      'dev',
      'stage',
      'prod',
    ]);
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
    expect(await parserFindings('bad.yml', runnerInJobEnv)).toEqual([
      expect.stringContaining("Unrecognized named-value: 'runner'"),
    ]);
  });

  it('actionlint (1.7, which knows ubuntu-24.04) rejects it too', async () => {
    expect(await actionlintFindings('bad.yml', runnerInJobEnv)).toEqual([
      expect.stringContaining('context "runner" is not allowed here'),
    ]);
    expect(await actionlintFindings('ok.yml', runnerInJobEnv.replace('${{ runner.temp }}', '/tmp'))).toEqual([]);
  });

  it('flags a third-party action pinned to a tag, a short SHA or without its version comment', () => {
    const workflow = [
      'jobs:',
      '  a:',
      '    steps:',
      '      - uses: actions/checkout@v5',
      '      - uses: actions/checkout@fbc6f39',
      '      - uses: actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09',
      '      - uses: actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09 # v5.1.0',
      '      - uses: ./actions/health-retry',
      '      - uses: octo-org/deploy-gates/actions/health-retry@v1',
      '',
    ].join('\n');
    expect(pinFindings('w.yml', workflow)).toEqual([
      'w.yml:4: actions/checkout@v5 is not pinned to a full commit SHA',
      'w.yml:4: actions/checkout@v5 has no version comment (# vX.Y.Z)',
      'w.yml:5: actions/checkout@fbc6f39 is not pinned to a full commit SHA',
      'w.yml:5: actions/checkout@fbc6f39 has no version comment (# vX.Y.Z)',
      'w.yml:6: actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09 has no version comment (# vX.Y.Z)',
    ]);
  });

  it("flags a call of this repository's reusable workflow with an unknown input or secret, or a missing required input", () => {
    expect(ownWorkflow('octo-org/deploy-gates/.github/workflows/deploy.yml@v1')).toBe('deploy.yml');
    const caller = [
      'on: workflow_dispatch',
      'jobs:',
      '  go:',
      '    uses: octo-org/deploy-gates/.github/workflows/deploy.yml@v1',
      '    with:',
      '      environment: stage',
      '      health-url: https://example.com/health',
      '    secrets:',
      '      ssh_key: x',
      '',
    ].join('\n');
    expect(workflowCallFindings(caller)).toEqual(
      expect.arrayContaining([
        'go: deploy.yml has no input "health-url"',
        'go: deploy.yml needs "health-urls"',
        'go: deploy.yml needs "target"',
        'go: deploy.yml has no secret "ssh_key"',
      ]),
    );
  });

  it('recognises the actions of this repository both as ./actions/<name> and as <owner>/deploy-gates/actions/<name>@<ref>', () => {
    expect(ownAction('./actions/health-retry')).toBe('health-retry');
    expect(ownAction('octo-org/deploy-gates/actions/release-switch@v1')).toBe('release-switch');
    expect(ownAction('octo-org/deploy-gates/actions/release-switch@0123456789abcdef0123456789abcdef01234567')).toBe(
      'release-switch',
    );
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
