import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../support/paths.js';
import {
  ACTIONLINT_LAGS,
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
/** GitHub's rule for secret names: letters, digits and underscores, not starting with a digit or GITHUB_. */
const validSecretName = (name: string) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !/^GITHUB_/i.test(name);

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

  it("use this repository's actions as $/actions/<name> (the commit of the workflow itself), never ./actions or @<tag>", () => {
    for (const file of ['build.yml', 'deploy.yml', 'audit.yml', 'release-services.yml']) {
      const text = readFileSync(join(repoRoot, '.github/workflows', file), 'utf8');
      const own = [...text.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)/gm)]
        .map((m) => m[1]!)
        .filter((uses) => ownAction(uses));
      expect({ file, own: own.filter((uses) => !uses.startsWith('$/actions/')) }).toEqual({ file, own: [] });
      if (file !== 'audit.yml') expect(own.length).toBeGreaterThan(0);
    }
  });

  it('deploy.yml and release-services.yml: one change per environment at a time, none cancelled, up to 100 queued', () => {
    for (const file of ['deploy.yml', 'release-services.yml'])
      expect(read(`.github/workflows/${file}`).concurrency).toEqual({
        group: 'deploy-gates-${{ inputs.environment }}',
        'cancel-in-progress': false,
        queue: 'max',
      });
  });

  it('deploy.yml: the gated jobs run in the environment without a GitHub deployment; the workflow records its own', () => {
    const workflow = read('.github/workflows/deploy.yml');
    expect(Object.keys(workflow.jobs)).toEqual(['resolve', 'deploy', 'smoke', 'rollback', 'record', 'evidence']);
    for (const job of ['deploy', 'rollback'])
      expect(workflow.jobs[job].environment).toEqual({ name: '${{ inputs.environment }}', deployment: false });
    for (const [name, job] of Object.entries(workflow.jobs) as [string, { environment?: unknown }][])
      if (!['deploy', 'rollback'].includes(name)) expect({ name, environment: job.environment }).toEqual({ name });
    const steps = (job: string) =>
      workflow.jobs[job].steps as { id?: string; uses?: string; with?: Record<string, string> }[];
    // After the reachability check (an unreachable host records nothing), before anything reaches the target.
    const deploySteps = steps('deploy');
    const start = deploySteps.findIndex((step) => step.uses === '$/actions/deployment-record');
    expect(start).toBe(deploySteps.findIndex((step) => step.id === 'verify') - 1);
    expect(deploySteps[start]).toMatchObject({
      uses: '$/actions/deployment-record',
      with: { mode: 'start', sha: '${{ needs.resolve.outputs.sha }}' },
    });
    expect(workflow.jobs.deploy.permissions.deployments).toBe('write');
    expect(workflow.jobs.record.permissions).toEqual({ deployments: 'write' });
    const finish = steps('record')[0]!.with!;
    expect(finish.mode).toBe('finish');
    expect(finish.outcome).toContain("needs.deploy.result == 'success'");
    expect(finish.outcome).toContain("needs.smoke.result == 'success' || needs.smoke.result == 'skipped'");
    expect(finish['rolled-back-to']).toContain("needs.rollback.outputs.healthy == 'true'");
    // What resolve-build-run chose is what verify-bundle-sha downloads: the artifact's id, not only its name.
    expect(deploySteps.find((step) => step.id === 'verify')).toMatchObject({
      uses: '$/actions/verify-bundle-sha',
      with: { 'artifact-id': '${{ needs.resolve.outputs.artifact-id }}' },
    });
    expect(workflow.jobs.resolve.outputs['artifact-id']).toBe('${{ steps.build.outputs.artifact-id }}');
    // The deployment finished must be of the commit resolved (and of the environment): a miswired id is refused.
    expect(finish.sha).toBe('${{ needs.resolve.outputs.sha }}');
    expect(workflow.jobs.record.needs).toEqual(['resolve', 'deploy', 'smoke', 'rollback']);
    expect(workflow.jobs.record.if).toContain('always()');
  });

  it('deploy.yml: the rollback runs on a failure or a cancellation after the switch, and the ledger records it', () => {
    const workflow = read('.github/workflows/deploy.yml');
    expect(workflow.jobs.rollback.if).toContain('(failure() || cancelled())');
    expect(workflow.jobs.rollback.if).toContain("needs.deploy.outputs.switched == 'true'");
    expect(workflow.jobs.evidence.if).toBe('always()');
    const ledger = (workflow.jobs.evidence.steps as { uses?: string; with?: Record<string, string> }[]).find(
      (step) => step.uses === '$/actions/deployment-ledger',
    )!;
    expect(ledger.with!.jobs).toContain('rollback=${{ needs.rollback.result }}');
    expect(ledger.with!.jobs).toContain('record=${{ needs.record.result }}');
  });

  it('deploy.yml: the hooks, assets, 15 s grace, gate secrets and the reachability check reach their actions', () => {
    const workflow = read('.github/workflows/deploy.yml');
    expect(workflow.on.workflow_call.inputs['health-grace-period'].default).toBe('15s');
    const steps = workflow.jobs.deploy.steps as {
      id?: string;
      name?: string;
      env?: Record<string, string>;
      with?: Record<string, string>;
    }[];
    expect(steps.find((step) => step.id === 'switch')!.with).toMatchObject({
      'before-switch': '${{ inputs.before-switch }}',
      'after-switch': '${{ inputs.after-switch }}',
    });
    const rollback = (workflow.jobs.rollback.steps as { id?: string; with?: Record<string, string> }[]).find(
      (step) => step.id === 'rollback',
    )!;
    expect(rollback.with!['after-switch']).toBe('${{ inputs.after-rollback }}');
    expect(steps.find((step) => step.id === 'health')!.with!['asset-manifest']).toBe('${{ inputs.asset-manifest }}');
    expect(steps.find((step) => step.name === 'Pre-switch gates on the target')!.env).toEqual({
      HEALTHCHECK_TOKEN: '${{ secrets.HEALTHCHECK_TOKEN }}',
      GATE_SECRET_1: '${{ secrets.GATE_SECRET_1 }}',
      GATE_SECRET_2: '${{ secrets.GATE_SECRET_2 }}',
      GATE_SECRET_3: '${{ secrets.GATE_SECRET_3 }}',
    });
    const reach = steps.findIndex((step) => step.name?.startsWith('Reachability'));
    expect(reach).toBeGreaterThan(-1);
    expect(reach).toBeLessThan(steps.findIndex((step) => step.id === 'verify'));
  });

  it('deploy.yml: shared files are linked into the new release after unpacking and before its gates; the switch gets the same list', () => {
    const steps = read('.github/workflows/deploy.yml').jobs.deploy.steps as {
      id?: string;
      name?: string;
      if?: string;
      uses?: string;
      with?: Record<string, string>;
    }[];
    const link = steps.findIndex((step) => step.uses === '$/actions/release-switch' && step.with?.mode === 'link');
    const gates = steps.findIndex((step) => step.name === 'Pre-switch gates on the target');
    expect(link).toBeGreaterThan(steps.findIndex((step) => step.id === 'verify'));
    expect(link).toBeLessThan(gates);
    expect(steps[link]).toMatchObject({
      if: "inputs.shared != ''",
      with: {
        release: '${{ steps.verify.outputs.release-name }}',
        shared: '${{ inputs.shared }}',
        'shared-replace': '${{ inputs.shared-replace }}',
      },
    });
    expect(steps.find((step) => step.id === 'switch')!.with).toMatchObject({
      shared: '${{ inputs.shared }}',
      'shared-replace': '${{ inputs.shared-replace }}',
    });
  });

  it('names every secret as GitHub allows (letters, digits, _; not GITHUB_), so environment secrets can match', () => {
    // audit.yml's admin-token is passed explicitly by the caller (no environment reads it); its interface is issue 21's.
    for (const file of ['build.yml', 'deploy.yml', 'release-services.yml']) {
      const declared = Object.keys(read(`.github/workflows/${file}`).on.workflow_call.secrets ?? {});
      const text = readFileSync(join(repoRoot, '.github/workflows', file), 'utf8');
      const used = [...text.matchAll(/secrets\.([\w-]+)/g)].map((m) => m[1]!);
      for (const name of [...declared, ...used])
        expect({ file, name, valid: validSecretName(name) }).toEqual({ file, name, valid: true });
    }
    for (const file of workflowFiles().filter((path) => path.startsWith('examples/'))) {
      const text = readFileSync(join(repoRoot, file), 'utf8');
      for (const [, name] of text.matchAll(/secrets\.([\w-]+)/g))
        expect({ file, name, valid: validSecretName(name!) }).toEqual({ file, name, valid: true });
    }
    expect(['ssh-key', 'GITHUB_TOKEN_X', '1KEY', 'SSH_KEY'].map(validSecretName)).toEqual([false, false, false, true]);
  });

  it('deploy.yml: each job uploads its reports under a name with the job and the attempt; the ledger downloads all', () => {
    const workflow = read('.github/workflows/deploy.yml');
    const jobs = workflow.jobs as Record<string, { steps: { uses?: string; with?: Record<string, string> }[] }>;
    const uploads = Object.entries(jobs).flatMap(([job, { steps }]) =>
      steps.filter((step) => step.uses?.startsWith('actions/upload-artifact@')).map((step) => [job, step.with!.name]),
    );
    expect(uploads).toEqual([
      ['deploy', 'deploy-gates-reports-deploy-${{ github.run_id }}-${{ github.run_attempt }}'],
      ['smoke', 'deploy-gates-reports-smoke-${{ github.run_id }}-${{ github.run_attempt }}'],
      ['rollback', 'deploy-gates-reports-rollback-${{ github.run_id }}-${{ github.run_attempt }}'],
      ['evidence', 'deployment-ledger-${{ github.run_id }}-${{ github.run_attempt }}'],
    ]);
    const download = jobs.evidence!.steps.find((step) => step.uses?.startsWith('actions/download-artifact@'))!;
    expect(download.with).toMatchObject({
      pattern: 'deploy-gates-reports-*-${{ github.run_id }}-*',
      'merge-multiple': false,
    });
  });

  it('deploy.yml: the smoke job stops egress-sentinel in the job and uploads its report', () => {
    const steps = read('.github/workflows/deploy.yml').jobs.smoke.steps as {
      id?: string;
      if?: string;
      uses?: string;
      with?: Record<string, unknown>;
    }[];
    const sentinels = steps.filter((step) => step.uses === '$/actions/egress-sentinel');
    expect(sentinels).toHaveLength(2);
    expect(sentinels[1]).toMatchObject({ id: 'sentinel', if: 'always()', with: { stop: true } });
    expect(steps.at(-1)!.with!.path).toBe('${{ steps.sentinel.outputs.report }}');
  });

  it("release-services.yml checks out the caller's repository before the release (verify-command may be a script)", () => {
    const steps = read('.github/workflows/release-services.yml').jobs.release.steps as { uses?: string }[];
    const checkout = steps.findIndex((step) => step.uses?.startsWith('actions/checkout@'));
    expect(checkout).toBeGreaterThan(-1);
    expect(checkout).toBeLessThan(steps.findIndex((step) => step.uses === '$/actions/release-services'));
  });

  it('build.yml replaces the artifact of an earlier attempt on a re-run (a second one of that name is refused)', () => {
    const upload = (
      read('.github/workflows/build.yml').jobs.build.steps as { uses?: string; with?: Record<string, unknown> }[]
    ).find((step) => step.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.with?.overwrite).toBe(true);
  });

  it('examples: every gates file they name is supplied under examples/gates/', () => {
    for (const file of workflowFiles().filter((path) => path.startsWith('examples/'))) {
      const jobs = read(file).jobs as Record<string, { with?: Record<string, unknown> }>;
      for (const job of Object.values(jobs)) {
        const gatesFile = job.with?.['gates-file'];
        if (typeof gatesFile !== 'string' || gatesFile === '') continue;
        expect({
          file,
          gatesFile,
          supplied: existsSync(join(repoRoot, 'examples/gates', basename(gatesFile))),
        }).toEqual({
          file,
          gatesFile,
          supplied: true,
        });
      }
    }
  });

  it('examples: dev and stage deploy to different hosts and directories; migrations run before the switch', () => {
    const staging = read('examples/workflows/deploy-staging.yml').jobs.deploy.with as Record<string, string>;
    const pick = (expression: string, environment: string) =>
      (JSON.parse(/fromJSON\('(.*)'\)\[inputs\.environment\]/.exec(expression)![1]!) as Record<string, string>)[
        environment
      ];
    expect(pick(staging.target!, 'dev')).not.toBe(pick(staging.target!, 'stage'));
    expect(pick(staging['releases-root']!, 'dev')).not.toBe(pick(staging['releases-root']!, 'stage'));
    for (const file of ['deploy-staging.yml', 'deploy-production.yml']) {
      const given = read(`examples/workflows/${file}`).jobs.deploy.with as Record<string, string>;
      expect(given['before-switch']).toContain('php artisan migrate --force');
      expect(given['after-switch'] ?? '').not.toContain('migrate');
      expect(given['after-rollback']).toContain('systemctl reload php8.3-fpm');
    }
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

  it('suppresses only what the pinned actionlint does not know yet ($/, queue, environment.deployment), nothing near it', async () => {
    const lagging = [
      'on: workflow_dispatch',
      'permissions: {}',
      'concurrency:',
      '  group: g',
      '  cancel-in-progress: false',
      '  queue: max',
      'jobs:',
      '  a:',
      '    runs-on: ubuntu-24.04',
      '    environment:',
      '      name: stage',
      '      deployment: false',
      '    steps:',
      '      - uses: $/actions/health-retry',
      '',
    ].join('\n');
    expect(await actionlintFindings('w.yml', lagging)).toEqual([]);
    expect(await parserFindings('w.yml', lagging)).toEqual([]);
    // A key nobody knows, in the same sections, is still reported by both.
    const wrong = lagging
      .replace('  queue: max', '  queue: max\n  wait: all')
      .replace('deployment: false', 'deploy: false');
    expect((await actionlintFindings('w.yml', wrong)).join('\n')).toMatch(
      /unexpected key "wait"[\s\S]*unexpected key "deploy"/,
    );
    expect((await parserFindings('w.yml', wrong)).length).toBeGreaterThan(0);
    expect(ACTIONLINT_LAGS).toHaveLength(3);
  });

  it('recognises the actions of this repository as $/actions/<name>, ./actions/<name> and <owner>/deploy-gates/actions/<name>@<ref>', () => {
    expect(ownAction('$/actions/deployment-record')).toBe('deployment-record');
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
