import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { createGitHubClient } from '#core/github/client.js';
import { conditionalClient } from '#core/github/protection-queries.js';
import { MemoryLogger } from '#core/logger.js';
import { audit, type AuditReport } from '#core/protection/audit.js';
import { parsePolicy } from '#core/protection/policy.js';
import { toSarif } from '#core/protection/sarif.js';
import { GitHubDouble } from '../support/github-double/index.js';
import { ACTIONS_APP, BUILD_WORKFLOW, FULL_CLASSIC, pinned, POLICY, seed } from './scenario.js';

const ADMIN = 'ghp_adminToken';
const READER = 'ghp_readerToken';
const WORKFLOW_TOKEN = 'ghs_workflowToken';
let double: GitHubDouble;

beforeAll(async () => {
  double = await new GitHubDouble().start();
  double.tokenKinds.set(READER, 'read').set(WORKFLOW_TOKEN, 'integration');
  const workflows = [{ name: 'Build', file: 'build.yml', text: BUILD_WORKFLOW }];
  seed(double, 'octo/unprotected', { branches: [{ name: 'main' }, { name: 'develop' }], workflows });
  seed(double, 'octo/classic', {
    branches: [
      { name: 'main', classic: FULL_CLASSIC },
      { name: 'develop', classic: { requiredChecks: ['build'], checkApps: pinned('build') } },
    ],
    workflows,
  });
  seed(double, 'octo/rulesets', {
    branches: [{ name: 'main' }, { name: 'develop' }],
    workflows,
    rulesets: [
      {
        id: 7,
        name: 'main rules',
        enforcement: 'active',
        include: ['~DEFAULT_BRANCH'],
        rules: [
          { type: 'deletion' },
          { type: 'non_fast_forward' },
          { type: 'required_linear_history' },
          {
            type: 'required_status_checks',
            parameters: {
              strict_required_status_checks_policy: true,
              required_status_checks: [
                { context: 'build', integration_id: ACTIONS_APP },
                { context: 'test (20)', integration_id: ACTIONS_APP },
              ],
            },
          },
          {
            type: 'pull_request',
            parameters: {
              required_approving_review_count: 1,
              dismiss_stale_reviews_on_push: true,
              require_code_owner_review: false,
              require_last_push_approval: true,
              required_review_thread_resolution: true,
            },
          },
        ],
      },
      // Evaluate mode: not enforced, so its rules never count.
      {
        id: 8,
        name: 'trial',
        enforcement: 'evaluate',
        include: ['develop'],
        rules: [
          { type: 'non_fast_forward' },
          {
            type: 'required_status_checks',
            parameters: { strict_required_status_checks_policy: false, required_status_checks: [{ context: 'build' }] },
          },
        ],
      },
    ],
  });
  seed(double, 'octo/bypass', {
    branches: [
      {
        name: 'main',
        classic: {
          requiredChecks: ['build', 'test (20)'],
          checkApps: pinned('build', 'test (20)'),
          strict: true,
          enforceAdmins: true,
          reviews: { count: 1, dismissStale: true },
          linearHistory: true,
          conversationResolution: true,
        },
      },
    ],
    workflows,
    rulesets: [
      {
        id: 9,
        name: 'no force',
        enforcement: 'active',
        include: ['main'],
        bypassActors: [{ actor_id: 5, actor_type: 'RepositoryRole' }],
        rules: [{ type: 'non_fast_forward' }, { type: 'deletion' }],
      },
    ],
  });
  seed(double, 'octo/checks', {
    branches: [
      {
        name: 'main',
        classic: {
          requiredChecks: ['build', 'tset', 'lint-eslint', 'codecov/patch'],
          checkApps: { 'codecov/patch': 254 },
        },
      },
    ],
    workflows: [
      { name: 'Build', file: 'build.yml', text: BUILD_WORKFLOW },
      {
        name: 'Build',
        file: 'legacy-build.yml',
        text: 'name: Build\non: push\njobs:\n  old:\n    runs-on: ubuntu-latest\n    steps: [{ run: make }]\n',
      },
      {
        name: 'Lint',
        file: 'lint.yml',
        text: 'on: push\njobs:\n  lint:\n    name: "lint-${{ matrix.tool }}"\n    runs-on: ubuntu-latest\n    steps: [{ run: make lint }]\n',
      },
    ],
  });
});

afterAll(async () => {
  await double.stop();
  expect(double.violations).toEqual([]);
});

const client = (token = ADMIN) => createGitHubClient({ token, baseUrl: double.url, retryUnitMs: 1 });
const policy = parsePolicy(POLICY, '.github/branch-policy.yml');
const run = (repo: string, token = ADMIN, apply = false) =>
  audit(
    client(token),
    { targets: [{ kind: 'repo', repo: { owner: 'octo', repo } }], policy, apply },
    { logger: new MemoryLogger() },
  );
const finding = (report: AuditReport, branch: string, rule: string) =>
  report.findings.find((item) => item.branch === branch && item.rule === rule);

describe('branch-protection-audit against the OpenAPI-checked GitHub double', () => {
  it('reports an unprotected branch at its severity (GitHub\'s 404 "Branch not protected" to an admin)', async () => {
    const report = await run('unprotected');
    expect(finding(report, 'main', 'protected')).toMatchObject({
      status: 'violation',
      severity: 'P0',
      actual: expect.stringContaining('not protected'),
      source: 'GET …/protection: "Branch not protected"',
    });
    expect(finding(report, 'develop', 'protected')).toMatchObject({ status: 'violation', severity: 'P1' });
    expect(report.counts).toMatchObject({ p0: 1, p1: 1 });
    expect(report.compliant).toBe(false);
    expect(report.repositories[0]!.branches[0]!.scorecard.tier).toBe(0);
  });

  it('reads classic protection only: every setting known and as wanted, Scorecard T5', async () => {
    const report = await run('classic');
    expect(report.findings.filter((item) => item.status !== 'ok')).toEqual([]);
    expect(report.compliant).toBe(true);
    const main = report.repositories[0]!.branches.find((branch) => branch.branch === 'main')!;
    expect(main).toMatchObject({ classic: 'readable', scorecard: { tier: 5, assumed: [] } });
  });

  it('counts enforced rulesets only: rules alone make main compliant, an evaluate-mode ruleset protects nothing', async () => {
    const report = await run('rulesets');
    expect(report.findings.filter((item) => item.branch === 'main' && item.status !== 'ok')).toEqual([]);
    expect(finding(report, 'main', 'enforce-admins')).toMatchObject({
      status: 'ok',
      source: 'ruleset main rules: no admin bypass',
    });
    expect(finding(report, 'develop', 'protected')).toMatchObject({ status: 'violation', severity: 'P1' });
    expect(report.repositories[0]!.branches.find((branch) => branch.branch === 'main')!.scorecard.tier).toBe(3);
  });

  it('combines classic and rulesets; an admin bypass of a ruleset nothing relies on (classic blocks it too) changes nothing', async () => {
    const report = await run('bypass');
    expect(finding(report, 'main', 'enforce-admins')).toMatchObject({ status: 'ok', source: 'classic protection' });
    expect(finding(report, 'main', 'allow-force-pushes')).toMatchObject({
      status: 'ok',
      source: expect.stringContaining('ruleset'),
    });
    expect(finding(report, 'main', 'required-status-checks')).toMatchObject({ status: 'ok' });
    expect(report.findings.filter((item) => item.rule === 'bypass')).toEqual([]);
  });

  it('with the workflow token (403) and a non-admin PAT (404) reports unknown, never unprotected or compliant', async () => {
    for (const token of [WORKFLOW_TOKEN, READER]) {
      const report = await run('classic', token);
      expect(report.counts).toMatchObject({ p0: 0, p1: 0, p2: 0 });
      expect(report.compliant).toBe(false);
      expect(finding(report, 'main', 'enforce-admins')).toMatchObject({
        status: 'ok',
        source: expect.stringContaining('enforcement_level: everyone'),
      });
      expect(finding(report, 'main', 'required-status-checks')).toMatchObject({
        status: 'ok',
        source: 'branch protection summary',
      });
      expect(finding(report, 'main', 'dismiss-stale-reviews')).toMatchObject({
        status: 'unknown',
        actual: 'unknown (needs Administration: read)',
      });
      expect(report.repositories[0]!.branches[0]!.classic).toMatch(/not readable with this token \(HTTP (403|404)\)/);
      expect(report.repositories[0]!.branches[0]!.scorecard.label).toBe(
        'T0 or higher (allow-force-pushes, allow-deletions unknown)',
      );
    }
    // The branch's own flag and the rules prove "unprotected" whatever the token may read.
    const unprotected = await run('unprotected', WORKFLOW_TOKEN);
    expect(finding(unprotected, 'main', 'protected')).toMatchObject({
      status: 'violation',
      severity: 'P0',
      source: 'branch not protected (protected: false)',
    });
  });

  it('flags a required check no job can report (P1) and workflows sharing a display name (P2), not a dynamic job name', async () => {
    const report = await run('checks');
    const orphans = report.findings.filter((item) => item.rule === 'check-without-job').map((item) => item.wanted);
    // "tset" is a typo no job reports; "lint-eslint" could come from the job named lint-${{ matrix.tool }};
    // "codecov/patch" must come from another app (app_id 254), not from a workflow job.
    expect(orphans).toEqual(['a job that reports "tset"']);
    expect(report.findings.find((item) => item.rule === 'duplicate-workflow-name')).toMatchObject({
      severity: 'P2',
      actual: expect.stringContaining('.github/workflows/legacy-build.yml'),
    });
    expect(finding(report, 'main', 'required-status-checks')).toMatchObject({
      status: 'violation',
      wanted: 'build, test (20)',
    });
  });

  it('apply writes back what it does not model, pins checks with app ids, logs the diff first, and reads back compliant', async () => {
    seed(double, 'octo/fixme', {
      branches: [
        {
          name: 'main',
          classic: {
            requiredChecks: ['codecov/patch'],
            checkApps: { 'codecov/patch': 254 },
            reviews: { count: 0 },
            allowForcePushes: true,
            restrictUsers: ['release-bot'],
            lockBranch: true,
            blockCreations: true,
            allowForkSyncing: true,
            dismissalUsers: ['lead'],
            bypassUsers: ['hotfixer'],
          },
        },
      ],
      workflows: [{ name: 'Build', file: 'build.yml', text: BUILD_WORKFLOW }],
    });
    const pinnedPolicy = parsePolicy(
      POLICY.replace('    severity: P0\n', '    severity: P0\n    app: github-actions\n'),
      'p.yml',
    );
    const target = {
      targets: [{ kind: 'repo' as const, repo: { owner: 'octo', repo: 'fixme' } }],
      policy: pinnedPolicy,
    };
    const before = await audit(client(ADMIN), { ...target, apply: false }, { logger: new MemoryLogger() });
    expect(finding(before, 'main', 'required-status-checks')).toMatchObject({ status: 'violation' });
    const denied = await audit(client(WORKFLOW_TOKEN), { ...target, apply: true }, { logger: new MemoryLogger() });
    expect(denied.repositories[0]!.branches[0]!.applied).toEqual([expect.stringContaining('not applied')]);
    // Read back through conditional requests: what did not change (the rules) is a 304, free of rate limit.
    const conditional = conditionalClient(client(ADMIN));
    const logger = new MemoryLogger();
    const applied = await audit(conditional, { ...target, apply: true }, { logger });
    expect(conditional.stats.notModified).toBe(1);
    expect(double.requests.filter((request) => request.status === 304).map((request) => request.operation)).toEqual([
      'GET /repos/{owner}/{repo}/rules/branches/{branch}',
    ]);
    // Apply keeps the pull request bypass allowances (it does not model them): hotfixer is still a bypass finding.
    expect(
      applied.findings
        .filter((item) => item.branch === 'main' && item.status !== 'ok')
        .map((item) => [item.rule, item.subject]),
    ).toEqual([['bypass', 'pull request bypass user:300']]);
    const changes = applied.repositories[0]!.branches[0]!.applied!;
    expect(changes).toEqual(
      expect.arrayContaining([
        'allow-force-pushes: true → false',
        'required-status-checks: [codecov/patch] → [codecov/patch, build, test (20)]',
      ]),
    );
    expect(logger.lines.map((line) => line.message)).toContain(
      `octo/fixme main: writing classic protection: ${changes.join('; ')}`,
    );
    // Everything the policy does not name is as it was; new checks are pinned to GitHub Actions, codecov stays.
    expect(double.repo('octo/fixme').branches[0]!.classic).toMatchObject({
      restrictUsers: ['release-bot'],
      lockBranch: true,
      blockCreations: true,
      allowForkSyncing: true,
      dismissalUsers: ['lead'],
      bypassUsers: ['hotfixer'],
      checkApps: { 'codecov/patch': 254, build: ACTIONS_APP, 'test (20)': ACTIONS_APP },
    });
    expect(double.requestsOf('PUT /repos/{owner}/{repo}/branches/{branch}/protection')).toHaveLength(1);
  });

  it('audits an organisation page by page (archived repositories left out), through a rate-limit pause, with constant requests per repository', async () => {
    const org = await new GitHubDouble().start();
    try {
      for (let index = 0; index < 130; index++) {
        seed(org, `big/repo-${String(index).padStart(3, '0')}`, {
          branches: [{ name: 'main', classic: FULL_CLASSIC }],
          workflows: [{ name: 'Build', file: 'build.yml', text: BUILD_WORKFLOW }],
          archived: index % 10 === 9,
        });
      }
      org.inject(
        { kind: 'primary-rate-limit', status: 403, resetInSeconds: 1 },
        { times: 1, match: /\/rules\/branches\// },
      );
      const logger = new MemoryLogger();
      const report = await audit(
        createGitHubClient({ token: ADMIN, baseUrl: org.url, logger }),
        {
          targets: [{ kind: 'org', org: 'big' }],
          policy: parsePolicy('branches:\n  main:\n    required-status-checks: [build]\n', 'policy'),
          apply: false,
          concurrency: 8,
        },
        { logger },
      );
      expect(report.repositories).toHaveLength(117);
      expect(report.compliant).toBe(true);
      expect(org.requestsTo('/orgs/{org}/repos').map((request) => request.query.get('page'))).toEqual(['1', '2']);
      expect(logger.lines.some((line) => /primary rate limit/.test(line.message))).toBe(true);
      // branch (by name: no branch list for a policy without globs), rules, protection, workflows, one workflow
      // file: 5 per repository (+1 for the retried one).
      expect(org.requests.length).toBe(2 + 117 * 5 + 1);
      expect(org.violations).toEqual([]);
    } finally {
      await org.stop();
    }
  });

  it('writes SARIF 2.1.0 that the SARIF schema accepts, located at the policy line', async () => {
    const report = await run('checks');
    const sarif = toSarif(report.findings, '1');
    const require = createRequire(import.meta.url);
    const schema = JSON.parse(
      readFileSync(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8'),
    ) as Record<string, unknown>;
    // The schema is draft-04 (`id`); ajv 8 reads it as draft-07 once `id` is `$id`.
    const { $schema: _draft, id, ...rest } = schema;
    const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
      ajv: Ajv,
    ) => Ajv;
    const ajv = addFormats(new Ajv({ strict: false, allErrors: true, unicodeRegExp: false }));
    const validate = ajv.compile({ ...rest, $id: id as string });
    expect(validate(sarif) ? [] : validate.errors).toEqual([]);
    const typo = sarif.runs[0]!.results!.find((result) => result.ruleId === 'branch-protection/check-without-job')!;
    expect(typo.locations![0]!.physicalLocation!.region!.startLine).toBe(4);
    expect(typo.level).toBe('warning');
  });
});

describe('policy', () => {
  it('fails with the line and what is allowed', () => {
    expect(() => parsePolicy('branches:\n  main:\n    severity: P0\n    allow-force-push: false\n', 'p.yml')).toThrow(
      /p\.yml line 4: unknown setting for "main": "allow-force-push" \(did you mean "allow-force-pushes"\?\); allowed: severity, required-status-checks/,
    );
    expect(() => parsePolicy('branches:\n  main:\n    severity: P9\n', 'p.yml')).toThrow(
      /line 3: severity of "main" is "P9"; allowed: P0, P1, P2/,
    );
    expect(() => parsePolicy('branches:\n  main:\n    required-approving-review-count: many\n', 'p.yml')).toThrow(
      /line 3: .*allowed: a whole number from 0 to 6/,
    );
    expect(() => parsePolicy('branch:\n  main: {}\n', 'p.yml')).toThrow(
      /line 1: unknown key "branch" \(did you mean "branches"\?\)/,
    );
  });

  it('names every problem at once, each with its line, what is allowed and the key probably meant', () => {
    const text = [
      'branches:',
      '  main:',
      '    required-status-check: [build]',
      '    severity: P4',
      '    allowed-bypass: [role:write, everyone]',
      'environments:',
      '  production:',
      '    required-reviewer: 1',
      '    deployment-branches: some',
      '',
    ].join('\n');
    let message = '';
    try {
      parsePolicy(text, 'p.yml');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('\n')).toEqual([
      '5 problems:',
      expect.stringMatching(/^p\.yml line 3: .*"required-status-check" \(did you mean "required-status-checks"\?\)/),
      expect.stringMatching(/^p\.yml line 4: severity of "main" is "P4"; allowed: P0, P1, P2$/),
      expect.stringMatching(/^p\.yml line 5: "everyone" in allowed-bypass of "main" is not an actor; allowed: role:/),
      expect.stringMatching(
        /^p\.yml line 8: .*"required-reviewer" \(did you mean "required-reviewers"\?\); allowed: severity, required-reviewers/,
      ),
      expect.stringMatching(
        /^p\.yml line 9: deployment-branches of environment "production" is "some"; allowed: protected, any/,
      ),
    ]);
  });
});
