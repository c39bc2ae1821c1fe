import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGitHubClient } from '#core/github/client.js';
import { MemoryLogger } from '#core/logger.js';
import { audit, type AuditReport } from '#core/protection/audit.js';
import { parsePolicy } from '#core/protection/policy.js';
import { auditFailure } from '#core/protection/render.js';
import { GitHubDouble } from '../support/github-double/index.js';
import { BUILD_WORKFLOW, seed } from './scenario.js';

/**
 * What the audit must never leave unjudged (audit findings D1–D3, D5, D6): a branch the policy names (also one
 * past the branch list's cap, or one that does not exist), tag deployment policies, deployment policies past the
 * first page, classic pull request bypass allowances, and a required check whose only workflow is disabled.
 */
const ADMIN = 'ghp_adminToken';
let double: GitHubDouble;
const workflows = [{ name: 'Build', file: 'build.yml', text: BUILD_WORKFLOW }];
const MAIN_P0 = `branches:
  main:
    severity: P0
    required-status-checks: [build]
`;

beforeAll(async () => {
  double = await new GitHubDouble().start();
  seed(double, 'octo/master-only', {
    branches: [{ name: 'master', classic: { requiredChecks: ['build'] } }],
    workflows,
  });
  seed(double, 'octo/many-branches', {
    branches: [
      ...Array.from({ length: 5000 }, (_, index) => ({ name: `dependabot/npm/pkg-${String(index).padStart(4, '0')}` })),
      { name: 'main' },
    ],
    workflows,
  });
});

afterAll(async () => {
  await double.stop();
  expect(double.violations).toEqual([]);
});

const run = (repo: string, policy: string): Promise<AuditReport> =>
  audit(
    createGitHubClient({ token: ADMIN, baseUrl: double.url, retryUnitMs: 1 }),
    {
      targets: [{ kind: 'repo', repo: { owner: 'octo', repo } }],
      policy: parsePolicy(policy, 'policy.yml'),
      apply: false,
    },
    { logger: new MemoryLogger() },
  );
const violations = (report: AuditReport) => report.findings.filter((finding) => finding.status === 'violation');

describe('every branch the policy names is judged', () => {
  it('a named branch the repository does not have is a violation at the branch severity, never compliant', async () => {
    const report = await run('master-only', MAIN_P0);
    expect(violations(report)).toEqual([
      expect.objectContaining({
        branch: 'main',
        rule: 'branch-missing',
        severity: 'P0',
        source: 'GET /repos/octo/master-only/branches/main: 404 Branch not found',
        fix: expect.stringContaining('correct the branch name in policy.yml'),
      }),
    ]);
    expect(report.compliant).toBe(false);
    expect(report.counts.p0).toBe(1);
    expect(auditFailure(report, 'P0')).toMatch(/^1 finding\(s\) at P0 or worse/);
  });

  it('looks a named branch up directly: an unprotected main after 5,000 other branches is found and judged', async () => {
    const before = double.requests.length;
    const report = await run('many-branches', MAIN_P0);
    expect(violations(report).map((finding) => [finding.branch, finding.rule, finding.severity])).toEqual([
      ['main', 'protected', 'P0'],
    ]);
    expect(report.compliant).toBe(false);
    const requests = double.requests.slice(before).map((request) => request.operation);
    expect(requests).toContain('GET /repos/{owner}/{repo}/branches/{branch}');
    // No listing is needed for exact names (the listing is capped at 5,000 branches).
    expect(requests).not.toContain('GET /repos/{owner}/{repo}/branches');
  });

  it('still lists branches for a glob, and judges an exact name under its own entry', async () => {
    const report = await run(
      'many-branches',
      `branches:\n  main: { severity: P0, allow-force-pushes: false }\n  dependabot/npm/pkg-000*: { allow-deletions: false }\n`,
    );
    const judged = report.repositories[0]!.branches.map((branch) => [branch.branch, branch.pattern]);
    expect(judged[0]).toEqual(['main', 'main']);
    expect(judged).toHaveLength(11); // main and pkg-0000 … pkg-0009
  });
});

describe('deployment environments: tag policies and every page of policies', () => {
  beforeAll(() => {
    seed(double, 'octo/tagged', {
      branches: [{ name: 'main' }],
      environments: [
        { name: 'production', branches: ['main'], tags: ['*'] },
        { name: 'release', branches: ['main'], tags: ['v*'] },
        {
          name: 'crowded',
          branches: [...Array.from({ length: 100 }, (_, index) => `release/${index}`), '*'],
        },
      ],
    });
  });

  it('a tag policy the policy does not list is a violation naming the tag pattern', async () => {
    const report = await run('tagged', 'environments:\n  production:\n    deployment-branches: [main]\n');
    expect(report.findings).toEqual([
      expect.objectContaining({
        branch: 'environment production',
        rule: 'environment-deployment-branches',
        status: 'violation',
        severity: 'P0',
        actual: expect.stringContaining('tag policies not in the policy: *'),
        fix: expect.stringContaining('remove the tag deployment policy *'),
      }),
    ]);
    expect(report.compliant).toBe(false);
  });

  it('accepts a tag pattern the policy lists as tag:<pattern>, and any', async () => {
    const listed = await run('tagged', 'environments:\n  release:\n    deployment-branches: [main, "tag:v*"]\n');
    expect(listed.findings).toEqual([
      expect.objectContaining({ status: 'ok', actual: 'branches matching main; tags matching v*' }),
    ]);
    const any = await run('tagged', 'environments:\n  production:\n    deployment-branches: any\n');
    expect(any.compliant).toBe(true);
  });

  it('reads deployment policies past the first 100 (a 101st "*" is seen)', async () => {
    const before = double.requests.length;
    const wanted = Array.from({ length: 100 }, (_, index) => `release/${index}`).join(', ');
    const report = await run('tagged', `environments:\n  crowded:\n    deployment-branches: [${wanted}]\n`);
    expect(report.findings).toEqual([
      expect.objectContaining({ status: 'violation', actual: expect.stringMatching(/release\/99, \*$/) }),
    ]);
    const pages = double.requests
      .slice(before)
      .filter((request) => request.path.endsWith('/deployment-branch-policies'))
      .map((request) => request.query.get('page'));
    expect(pages).toEqual(['1', '2']);
  });
});

describe('classic pull request bypass allowances', () => {
  const POLICY = (allowed: string) =>
    `branches:\n  main:\n    severity: P1\n    required-approving-review-count: 1\n    allowed-bypass: [${allowed}]\n`;
  beforeAll(() => {
    seed(double, 'octo/allowances', {
      branches: [
        {
          name: 'main',
          classic: {
            reviews: { count: 1 },
            bypassUsers: ['mallory'],
            bypassTeams: ['contractors'],
            bypassApps: ['merge-bot'],
          },
        },
      ],
    });
    seed(double, 'octo/allowances-ruled', {
      branches: [{ name: 'main', classic: { reviews: { count: 1 }, bypassUsers: ['mallory'] } }],
      rulesets: [
        {
          id: 31,
          name: 'reviews',
          enforcement: 'active',
          include: ['main'],
          rules: [
            {
              type: 'pull_request',
              parameters: {
                required_approving_review_count: 1,
                dismiss_stale_reviews_on_push: false,
                require_code_owner_review: false,
                require_last_push_approval: false,
                required_review_thread_resolution: false,
              },
            },
          ],
        },
      ],
    });
  });

  it('every user, team and app that may push without a pull request is a bypass finding naming it', async () => {
    const report = await run('allowances', POLICY(''));
    const bypass = violations(report).filter((finding) => finding.rule === 'bypass');
    expect(bypass.map((finding) => finding.actual)).toEqual([
      expect.stringMatching(
        /^user mallory \[user:300\] may push without a pull request .*past required-approving-review-count$/,
      ),
      expect.stringMatching(/^team contractors \[team:\d+\] may push without a pull request/),
      expect.stringMatching(/^GitHub App merge-bot \[app:400\] may push without a pull request/),
    ]);
    expect(bypass.every((finding) => finding.severity === 'P1')).toBe(true);
    expect(report.compliant).toBe(false);
  });

  it('accepts an actor listed in allowed-bypass, and none where a ruleset still requires the reviews', async () => {
    const report = await run('allowances', POLICY('user:300'));
    expect(report.findings.find((finding) => finding.subject === 'pull request bypass user:300')?.status).toBe('ok');
    expect(violations(report)).toHaveLength(2);
    const ruled = await run('allowances-ruled', POLICY(''));
    expect(ruled.findings.filter((finding) => finding.rule === 'bypass')).toEqual([]);
  });
});

describe('a required check whose only workflow is disabled', () => {
  beforeAll(() => {
    seed(double, 'octo/disabled', {
      branches: [{ name: 'main', classic: { requiredChecks: ['build'] } }],
      workflows: [{ name: 'Build', file: 'build.yml', text: BUILD_WORKFLOW, state: 'disabled_inactivity' }],
    });
  });

  it('is a P1 check-without-job finding naming the disabled workflow', async () => {
    const report = await run('disabled', 'branches:\n  main:\n    severity: P2\n    required-status-checks: [build]\n');
    expect(violations(report).filter((finding) => finding.rule === 'check-without-job')).toEqual([
      expect.objectContaining({
        severity: 'P1',
        subject: 'build',
        actual: expect.stringContaining(
          'only jobs of disabled workflows report it (.github/workflows/build.yml (disabled_inactivity))',
        ),
        fix: expect.stringContaining('enable the workflow'),
      }),
    ]);
    expect(report.counts.p1).toBe(1);
  });
});
