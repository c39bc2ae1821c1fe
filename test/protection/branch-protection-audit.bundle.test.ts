import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitHubDouble } from '../support/github-double/index.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';
import { BUILD_WORKFLOW, FULL_CLASSIC, pinned, POLICY, seed } from './scenario.js';

const TOKEN = 'ghs_bundleAuditToken42';
let double: GitHubDouble;
const runs: BundleRun[] = [];

beforeAll(async () => {
  double = await new GitHubDouble('/api/v3').start();
  double.token = TOKEN;
  seed(double, 'octo/app', {
    branches: [{ name: 'main', classic: { ...FULL_CLASSIC, requiredChecks: [] } }, { name: 'develop' }],
    workflows: [
      { name: 'Build', file: 'build.yml', text: BUILD_WORKFLOW },
      { name: 'Build', file: 'legacy.yml', text: BUILD_WORKFLOW },
    ],
  });
});

afterAll(async () => {
  await double.stop();
  runs.splice(0).forEach(cleanup);
  expect(double.violations).toEqual([]);
});

describe('dist/branch-protection-audit/index.js on node24 against the GitHub double', () => {
  it('fails on P0, writes outputs, the JSON report, SARIF and the SOLL/IST summary worst first', async () => {
    // The first request meets a primary rate limit that resets in about a second: the step pauses, then goes on.
    // (Branches the policy names exactly are looked up by name: the first request is GET …/branches/main.)
    double.inject(
      { kind: 'primary-rate-limit', status: 403, resetInSeconds: 1 },
      { times: 1, match: /\/branches\/main$/ },
    );
    const result = await runBundle(
      'branch-protection-audit',
      { policy: POLICY },
      {
        GITHUB_API_URL: double.url,
        GITHUB_SERVER_URL: 'https://ghe.example',
        GITHUB_REPOSITORY: 'octo/app',
        GITHUB_TOKEN: TOKEN,
      },
    );
    runs.push(result);
    expect(result.log).toContain(`::add-mask::${TOKEN}`);
    // Fix links point at the server the workflow runs on (GitHub Enterprise Server), not github.com.
    // Server links follow GITHUB_SERVER_URL; summary cells render bare URLs as text (a zero-width space after `:`).
    expect(result.summary).toContain('https:&#8203;//ghe.example/octo/app/settings/branches');
    expect(result.summary).not.toContain('github.com/octo/app/settings');
    expect(result.summary).not.toContain('https://github.com/octo/app');
    expect(result.log.split('\n').filter((line) => !line.startsWith('::add-mask::') && line.includes(TOKEN))).toEqual(
      [],
    );
    expect(result.log).toMatch(/primary rate limit/);
    expect(result.exitCode).toBe(1);
    expect(result.outputs).toMatchObject({ p0: '1', p1: '1', p2: '1', compliant: 'false' });
    const report = JSON.parse(readFileSync(result.outputs.report!, 'utf8')).details as {
      findings: { rule: string; severity: string; status: string }[];
    };
    expect(report.findings.slice(0, 3).map((finding) => [finding.severity, finding.rule])).toEqual([
      ['P0', 'required-checks-empty'],
      ['P1', 'protected'],
      ['P2', 'duplicate-workflow-name'],
    ]);
    const sarif = JSON.parse(readFileSync(result.outputs.sarif!, 'utf8')) as {
      version: string;
      runs: { results: unknown[] }[];
    };
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.runs[0]!.results).toHaveLength(3);
    expect(result.outputs.sarif).toBe(join(result.runnerTemp, 'deploy-gates', 'branch-protection-audit.sarif'));
    const rows = result.summary.split('\n').filter((line) => line.startsWith('| '));
    expect(rows[0]).toBe('| Finding | Result | Detail | Time |');
    expect(rows[2]).toContain('P0 octo/app main: required-checks-empty');
    expect(rows[2]).toContain('SOLL build, test (20) · IST protected, but no required status checks');
    expect(result.summary).toContain('Scorecard T');
  });

  it('passes with fail-on P0 when the token cannot read classic protection: unknown settings are listed, not violations', async () => {
    double
      .repo('octo/app')
      .branches.splice(
        0,
        2,
        { name: 'main', classic: FULL_CLASSIC },
        { name: 'develop', classic: { requiredChecks: ['build'], checkApps: pinned('build') } },
      );
    double.repo('octo/app').workflows.splice(1, 1);
    double.tokenKinds.set(TOKEN, 'integration');
    const result = await runBundle(
      'branch-protection-audit',
      { policy: POLICY },
      { GITHUB_API_URL: double.url, GITHUB_REPOSITORY: 'octo/app', GITHUB_TOKEN: TOKEN },
    );
    runs.push(result);
    expect(result.exitCode).toBe(0);
    expect(result.outputs).toMatchObject({ p0: '0', p1: '0', p2: '0', compliant: 'false' });
    expect(result.summary).toContain('unknown (needs Administration: read)');
    expect(result.summary).toContain('not readable with this token (HTTP 403)');
  });
  it('fails on P0 when a branch the policy names does not exist (branch-missing), never compliant', async () => {
    seed(double, 'octo/master-only', { branches: [{ name: 'master', classic: FULL_CLASSIC }] });
    const result = await runBundle(
      'branch-protection-audit',
      { policy: 'branches:\n  main:\n    severity: P0\n    required-status-checks: [build]\n', 'fail-on': 'P0' },
      { GITHUB_API_URL: double.url, GITHUB_REPOSITORY: 'octo/master-only', GITHUB_TOKEN: TOKEN },
    );
    runs.push(result);
    expect(result.exitCode).toBe(1);
    expect(result.outputs).toMatchObject({ p0: '1', compliant: 'false' });
    expect(result.summary).toContain('P0 octo/master-only main: branch-missing');
  });

  it('refuses a sarif-path that is a directory before it asks GitHub anything (an apply would have changed settings)', async () => {
    const before = double.requests.length;
    const result = await runBundle(
      'branch-protection-audit',
      { policy: POLICY, 'sarif-path': tmpdir() },
      { GITHUB_API_URL: double.url, GITHUB_REPOSITORY: 'octo/app', GITHUB_TOKEN: TOKEN },
    );
    runs.push(result);
    expect(result.exitCode).toBe(1);
    expect(result.log).toContain(`::error::Input "sarif-path": ${tmpdir()} is a directory; give a file path`);
    expect(double.requests.length).toBe(before);
  });
});
