import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGitHubClient } from '#core/github/client.js';
import { loadEtagCache, saveEtagCache } from '#core/github/protection-etag-cache.js';
import { conditionalClient } from '#core/github/protection-queries.js';
import { MemoryLogger } from '#core/logger.js';
import { audit, type AuditReport } from '#core/protection/audit.js';
import { parsePolicy } from '#core/protection/policy.js';
import { auditResults } from '#core/protection/render.js';
import { toSarif } from '#core/protection/sarif.js';
import { GitHubDouble, type RulesetSpec } from '../support/github-double/index.js';
import { ACTIONS_APP, BUILD_WORKFLOW, FULL_CLASSIC, seed } from './scenario.js';

/**
 * What GitHub enforces, as GitHub answers it: ruleset-only branches (`protected: true`, 404 "Branch not
 * protected"), bypass actors judged per rule, where required checks may come from, merge queues, and the approval
 * gate itself (deployment environments).
 */
const ADMIN = 'ghp_adminToken';
const READER = 'ghp_readerToken';
const WORKFLOW_TOKEN = 'ghs_workflowToken';
let double: GitHubDouble;

const MAIN_RULES: RulesetSpec['rules'] = [
  { type: 'deletion' },
  { type: 'non_fast_forward' },
  {
    type: 'required_status_checks',
    parameters: {
      strict_required_status_checks_policy: true,
      required_status_checks: [{ context: 'build', integration_id: ACTIONS_APP }],
    },
  },
  {
    type: 'pull_request',
    parameters: {
      required_approving_review_count: 1,
      dismiss_stale_reviews_on_push: true,
      require_code_owner_review: false,
      require_last_push_approval: true,
      required_review_thread_resolution: false,
    },
  },
];
const ruleset = (id: number, bypassActors: RulesetSpec['bypassActors'] = []): RulesetSpec => ({
  id,
  name: `main rules ${id}`,
  enforcement: 'active',
  include: ['~DEFAULT_BRANCH'],
  bypassActors,
  rules: MAIN_RULES,
});
const POLICY = `branches:
  main:
    severity: P0
    required-status-checks: [build]
    strict: true
    enforce-admins: true
    required-approving-review-count: 1
    allow-force-pushes: false
    allow-deletions: false
`;
const workflows = [{ name: 'Build', file: 'build.yml', text: BUILD_WORKFLOW }];

beforeAll(async () => {
  double = await new GitHubDouble().start();
  double.tokenKinds.set(READER, 'read').set(WORKFLOW_TOKEN, 'integration');
  double.apps.set('codecov', 254);
  seed(double, 'octo/ruleset-only', { branches: [{ name: 'main' }], workflows, rulesets: [ruleset(1)] });
  seed(double, 'octo/bypassed', {
    branches: [{ name: 'main' }],
    workflows,
    rulesets: [
      ruleset(2, [
        { actor_id: 4, actor_type: 'RepositoryRole', bypass_mode: 'always' },
        { actor_id: ACTIONS_APP, actor_type: 'Integration', bypass_mode: 'pull_request' },
        { actor_id: null, actor_type: 'DeployKey', bypass_mode: 'always' },
        { actor_id: 1, actor_type: 'OrganizationAdmin', bypass_mode: 'always' },
      ]),
    ],
  });
});

afterAll(async () => {
  await double.stop();
  expect(double.violations).toEqual([]);
});

const client = (token = ADMIN) => createGitHubClient({ token, baseUrl: double.url, retryUnitMs: 1 });
const run = (repo: string, policy = POLICY, token = ADMIN, links?: { web: string }) =>
  audit(
    client(token),
    {
      targets: [{ kind: 'repo', repo: { owner: 'octo', repo } }],
      policy: parsePolicy(policy, 'policy.yml'),
      apply: false,
      ...(links ? { links } : {}),
    },
    { logger: new MemoryLogger() },
  );
const notOk = (report: AuditReport) => report.findings.filter((finding) => finding.status !== 'ok');

describe('the GitHub double answers as GitHub does', () => {
  it('flags a ruleset-only branch protected, and answers its classic protection 404 "Branch not protected" to an admin, "Not Found" to a reader, 403 to the workflow token', async () => {
    const get = async (path: string, token: string) => {
      const response = await fetch(`${double.url}${path}`, { headers: { authorization: `token ${token}` } });
      return { status: response.status, body: (await response.json()) as { message?: string; protected?: boolean } };
    };
    const branches = (await get('/repos/octo/ruleset-only/branches', ADMIN)).body as unknown as {
      protected: boolean;
    }[];
    expect(branches[0]!.protected).toBe(true);
    expect((await get('/repos/octo/ruleset-only/branches/main', READER)).body.protected).toBe(true);
    const protection = '/repos/octo/ruleset-only/branches/main/protection';
    expect(await get(protection, ADMIN)).toMatchObject({ status: 404, body: { message: 'Branch not protected' } });
    expect(await get(protection, READER)).toMatchObject({ status: 404, body: { message: 'Not Found' } });
    expect(await get(protection, WORKFLOW_TOKEN)).toMatchObject({ status: 403 });
    const set = (await get('/repos/octo/bypassed/rulesets/2', ADMIN)).body as { bypass_actors?: unknown[] };
    expect(set.bypass_actors).toHaveLength(4);
    expect((await get('/repos/octo/bypassed/rulesets/2', READER)).body).not.toHaveProperty('bypass_actors');
  });
});

describe('ruleset-only branches', () => {
  it('are judged from the rules: classic protection none, compliant through rulesets alone', async () => {
    const report = await run('ruleset-only');
    expect(notOk(report)).toEqual([]);
    expect(report.compliant).toBe(true);
    expect(report.repositories[0]!.branches[0]).toMatchObject({ protected: true, classic: 'none' });
  });

  it('with a token that cannot read classic protection or bypass lists: what the rules say is known, the rest unknown', async () => {
    const report = await run('ruleset-only', POLICY, READER);
    expect(report.compliant).toBe(false);
    expect(report.counts).toMatchObject({ p0: 0, p1: 0, p2: 0 });
    expect(report.findings.find((finding) => finding.rule === 'allow-force-pushes')).toMatchObject({ status: 'ok' });
    expect(report.findings.find((finding) => finding.rule === 'bypass')).toMatchObject({
      status: 'unknown',
      actual: expect.stringContaining('shown only to those who may edit it'),
    });
  });
});

describe('bypass judged per rule', () => {
  it('names every non-admin actor and its mode at the branch severity; admins count against enforce-admins only', async () => {
    const report = await run('bypassed');
    const bypass = report.findings.filter((finding) => finding.rule === 'bypass');
    expect(bypass.map((finding) => [finding.severity, finding.status, finding.subject])).toEqual([
      ['P0', 'violation', 'main rules 2 role:write'],
      ['P0', 'violation', 'main rules 2 app:15368'],
      ['P0', 'violation', 'main rules 2 deploy-key'],
    ]);
    const write = bypass.find((finding) => finding.subject?.endsWith('role:write'))!;
    expect(write.actual).toContain('repository role write (everyone with write access)');
    expect(write.actual).toContain('bypass_mode: always');
    expect(write.actual).toContain('required-status-checks');
    expect(bypass.find((finding) => finding.subject?.endsWith('app:15368'))!.actual).toContain(
      'bypass_mode: pull_request — by merging a pull request past the rules',
    );
    expect(report.findings.find((finding) => finding.rule === 'enforce-admins')).toMatchObject({
      status: 'violation',
      source: expect.stringContaining('organization admins [org-admin]'),
    });
  });

  it('accepts the actors the policy lists under allowed-bypass', async () => {
    const policy = POLICY.replace(
      '    severity: P0\n',
      '    severity: P0\n    allowed-bypass: [deploy-key, app:15368]\n',
    );
    const bypass = (await run('bypassed', policy)).findings.filter((finding) => finding.rule === 'bypass');
    expect(bypass.map((finding) => [finding.status, finding.subject])).toEqual([
      ['violation', 'main rules 2 role:write'],
      ['ok', 'main rules 2 app:15368'],
      ['ok', 'main rules 2 deploy-key'],
    ]);
  });
});

describe('where required checks come from', () => {
  beforeAll(() => {
    seed(double, 'octo/sources', {
      branches: [
        {
          name: 'main',
          classic: { ...FULL_CLASSIC, requiredChecks: ['build', 'codecov/patch'], checkApps: { 'codecov/patch': 254 } },
        },
      ],
      workflows,
    });
  });

  it('reports a check any source may set as P2 by default, and compares each check with app: in the policy', async () => {
    const policy = (app: string) =>
      `branches:\n  main:\n    severity: P1\n${app}    required-status-checks: [build, codecov/patch]\n`;
    const unpinned = notOk(await run('sources', policy('')));
    expect(unpinned.map((finding) => [finding.rule, finding.severity, finding.subject])).toEqual([
      ['check-unpinned', 'P2', 'build'],
    ]);
    const actions = notOk(await run('sources', policy('    app: github-actions\n')));
    expect(actions.map((finding) => [finding.rule, finding.severity, finding.subject, finding.actual])).toEqual([
      ['check-app', 'P1', 'build', expect.stringContaining('any source')],
      ['check-app', 'P1', 'codecov/patch', 'app 254'],
    ]);
    const codecov = notOk(await run('sources', policy('    app: codecov\n')));
    expect(codecov.map((finding) => [finding.rule, finding.subject])).toEqual([['check-app', 'build']]);
    expect(notOk(await run('sources', policy('    app: any\n')))).toEqual([]);
    expect(notOk(await run('sources', policy('    app: no-such-app\n')))[0]).toMatchObject({
      status: 'unknown',
      actual: expect.stringContaining('no GitHub App "no-such-app"'),
    });
  });

  it('with a merge queue, flags a required check from a workflow that does not run on merge_group (P1)', async () => {
    const queue: RulesetSpec = {
      id: 30,
      name: 'queue',
      enforcement: 'active',
      include: ['main'],
      rules: [
        {
          type: 'merge_queue',
          parameters: {
            check_response_timeout_minutes: 60,
            grouping_strategy: 'ALLGREEN',
            max_entries_to_build: 5,
            max_entries_to_merge: 5,
            merge_method: 'SQUASH',
            min_entries_to_merge: 1,
            min_entries_to_merge_wait_minutes: 5,
          },
        },
      ],
    };
    const checks = {
      ...FULL_CLASSIC,
      requiredChecks: ['build', 'lint'],
      checkApps: { build: ACTIONS_APP, lint: ACTIONS_APP },
    };
    seed(double, 'octo/queued', {
      branches: [{ name: 'main', classic: checks }],
      rulesets: [queue],
      workflows: [
        { name: 'Build', file: 'build.yml', text: BUILD_WORKFLOW },
        {
          name: 'Lint',
          file: 'lint.yml',
          text: 'on: { pull_request: {}, merge_group: {} }\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps: [{ run: make lint }]\n',
        },
      ],
    });
    const report = await run('queued', 'branches:\n  main:\n    required-status-checks: [build, lint]\n');
    expect(notOk(report).map((finding) => [finding.rule, finding.severity, finding.subject])).toEqual([
      ['check-not-on-merge-group', 'P1', 'build'],
    ]);
    expect(report.repositories[0]!.branches[0]!.mergeQueue).toBe(true);
  });
});

describe('the approval gate: deployment environments', () => {
  const ENV_POLICY = `environments:
  production:
    severity: P0
    required-reviewers: 1
    prevent-self-review: true
    deployment-branches: protected
    can-admins-bypass: false
    wait-timer: 0
  staging:
    severity: P1
    required-reviewers: 1
    prevent-self-review: true
    deployment-branches: [main]
    can-admins-bypass: false
    wait-timer: 5
  prod:
    severity: P0
`;
  beforeAll(() => {
    seed(double, 'octo/gated', {
      branches: [{ name: 'main' }],
      environments: [
        {
          name: 'production',
          reviewers: ['team:release-managers'],
          preventSelfReview: true,
          branches: 'protected',
          canAdminsBypass: false,
        },
        { name: 'staging', reviewers: [], branches: ['main', 'feature/*'], waitTimer: 1 },
      ],
    });
  });

  it('judges reviewers, self-review, deployment branches, admin bypass and wait timer; a missing one is a finding at its severity', async () => {
    const report = await run('gated', ENV_POLICY, READER, { web: 'https://ghe.example' });
    const production = report.findings.filter((finding) => finding.branch === 'environment production');
    expect(production.map((finding) => finding.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    const staging = notOk(report).filter((finding) => finding.branch === 'environment staging');
    expect(staging.map((finding) => [finding.rule, finding.severity, finding.actual])).toEqual([
      ['environment-can-admins-bypass', 'P1', 'true'],
      ['environment-deployment-branches', 'P1', 'branches matching main, feature/*'],
      ['environment-prevent-self-review', 'P1', 'false'],
      ['environment-required-reviewers', 'P1', '0 reviewer(s)'],
      ['environment-wait-timer', 'P1', '1 min'],
    ]);
    expect(report.findings.find((finding) => finding.branch === 'environment prod')).toMatchObject({
      rule: 'environment-missing',
      severity: 'P0',
      status: 'violation',
      actual: expect.stringContaining('GitHub would create it unprotected on first use'),
      fix: expect.stringContaining('https://ghe.example/octo/gated/settings/environments'),
    });
    expect(report.counts).toMatchObject({ p0: 1, p1: 5 });
    // In the summary rows and in SARIF like branch findings.
    expect(auditResults(report).map((row) => row.name)).toContain(
      'P0 octo/gated environment prod: environment-missing',
    );
    const sarif = toSarif(report.findings, '1');
    expect(sarif.runs[0]!.results!.map((result) => result.ruleId)).toContain('branch-protection/environment-missing');
  });
});

describe('ETags across runs', () => {
  const dir = mkdtempSync(join(tmpdir(), `etags-${process.pid}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'etags.json');

  const cachedRun = async (token: string) => {
    const cached = conditionalClient(client(token), undefined, await loadEtagCache(file, token));
    const first = double.requests.length;
    const report = await audit(
      cached,
      {
        targets: [{ kind: 'repo', repo: { owner: 'octo', repo: 'bypassed' } }],
        policy: parsePolicy(POLICY, 'policy.yml'),
        apply: false,
      },
      { logger: new MemoryLogger() },
    );
    await saveEtagCache(file, token, cached.cache);
    const requests = double.requests.slice(first);
    return { report, requests, notModified: requests.filter((request) => request.status === 304).length };
  };

  it('a second run asks with If-None-Match: every unchanged GET is a 304 (no rate limit), the result the same', async () => {
    const first = await cachedRun(ADMIN);
    expect(first.notModified).toBe(0);
    const second = await cachedRun(ADMIN);
    // Measured: the second run makes as many requests as the first; every answer that had an ETag (each 200) is
    // now a 304; only the 404 "Branch not protected" (no ETag, as on GitHub) is asked in full again.
    expect(second.requests).toHaveLength(first.requests.length);
    expect(second.notModified).toBe(first.requests.filter((request) => request.status === 200).length);
    expect(second.requests.filter((request) => request.status !== 304).map((request) => request.operation)).toEqual([
      'GET /repos/{owner}/{repo}/branches/{branch}/protection',
    ]);
    expect(second.report.findings).toEqual(first.report.findings);
  });

  it('seals the file: nothing admin-only is readable in it, and one altered or written with another token is ignored', async () => {
    const text = readFileSync(file, 'utf8');
    // A pull request's run can restore the default branch's caches: the bypass lists must not be readable there.
    for (const clear of ['bypass_actors', 'rulesets', 'required_status_checks', 'octo/bypassed'])
      expect(text).not.toContain(clear);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // One byte of the sealed data changed: the whole file is ignored, everything asked for in full.
    const sealed = JSON.parse(text) as { data: string };
    const bytes = Buffer.from(sealed.data, 'base64');
    bytes[10] = bytes[10]! ^ 1;
    writeFileSync(file, JSON.stringify({ ...sealed, data: bytes.toString('base64') }));
    const altered = await cachedRun(ADMIN);
    expect(altered.notModified).toBe(0);
    expect(altered.report.findings.filter((finding) => finding.rule === 'bypass')).toHaveLength(3);
    // Written again by that run with ADMIN's token: another token cannot open it either.
    const otherToken = await cachedRun(READER);
    expect(otherToken.notModified).toBe(0);
  });
});

describe('apply: rulesets', () => {
  const PINNED = POLICY.replace('    severity: P0\n', '    severity: P0\n    app: github-actions\n');
  const applyRun = (policy: string, apply: true | 'rulesets', dryRun: boolean) =>
    audit(
      client(ADMIN),
      {
        targets: [{ kind: 'repo', repo: { owner: 'octo', repo: 'to-ruleset' } }],
        policy: parsePolicy(policy, 'policy.yml'),
        apply,
        dryRun,
      },
      { logger: new MemoryLogger() },
    );
  const writes = () =>
    double.requests.filter((request) => request.method !== 'GET' && request.path.startsWith('/repos/octo/to-ruleset/'));

  it('shows the diff on a dry run and writes nothing; then creates one managed ruleset per pattern, read back compliant', async () => {
    seed(double, 'octo/to-ruleset', { branches: [{ name: 'main' }], workflows });
    const dry = await applyRun(PINNED, 'rulesets', true);
    expect(dry.repositories[0]!.branches[0]!.applied).toEqual([
      'dry run: + ruleset deploy-gates: main (targets refs/heads/main)',
      expect.stringMatching(/^dry run: \+ required_status_checks .*"integration_id":15368/),
      expect.stringMatching(/^dry run: \+ pull_request /),
      'dry run: + non_fast_forward',
      'dry run: + deletion',
    ]);
    const classicDry = await applyRun(PINNED, true, true);
    expect(classicDry.repositories[0]!.branches[0]!.applied).toContain('dry run: allow-force-pushes: true → false');
    expect(writes()).toEqual([]);

    const applied = await applyRun(PINNED, 'rulesets', false);
    expect(writes().map((request) => `${request.method} ${request.status}`)).toEqual(['POST 201']);
    expect(notOk(applied)).toEqual([]);
    expect(applied.repositories[0]!.branches[0]).toMatchObject({
      classic: 'none',
      rulesets: [{ name: 'deploy-gates: main', bypassActors: 0 }],
    });
    expect(double.repo('octo/to-ruleset').branches[0]!.classic).toBeUndefined();

    // A stricter policy updates the same ruleset (PUT), changing only the rule the policy names.
    const stricter = PINNED.replace('required-approving-review-count: 1', 'required-approving-review-count: 2');
    const updated = await applyRun(stricter, 'rulesets', false);
    expect(updated.repositories[0]!.branches[0]!.applied).toEqual([
      expect.stringMatching(
        /^~ pull_request: .*"required_approving_review_count":1.* → .*"required_approving_review_count":2/,
      ),
    ]);
    expect(writes().map((request) => request.method)).toEqual(['POST', 'PUT']);
    expect(double.repo('octo/to-ruleset').rulesets).toHaveLength(1);
    expect(notOk(updated)).toEqual([]);
  });
});
