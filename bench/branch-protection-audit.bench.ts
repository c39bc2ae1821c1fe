/**
 * branch-protection-audit in org mode against the GitHub double: requests and wall time for 10, 100 and 500
 * repositories (each with main and develop protected, one ruleset, two workflows), with concurrency 8 and, side
 * by side, one repository at a time (interleaved A,B,A,B). The policy audits the production environment too.
 * Then a run with an ETag cache and a second run within the hour that reuses it: how many of its requests GitHub
 * answers 304 (no rate limit). The figures that must hold: requests per repository constant as the organisation
 * grows; wall time per repository flat or falling; the second run's requests (nearly) all 304.
 */
import { performance } from 'node:perf_hooks';
import { createGitHubClient } from '#core/github/client.js';
import { conditionalClient } from '#core/github/protection-queries.js';
import { audit } from '#core/protection/audit.js';
import { parsePolicy } from '#core/protection/policy.js';
import { GitHubDouble } from '../test/support/github-double/index.js';
import { BUILD_WORKFLOW, FULL_CLASSIC, POLICY, seed } from '../test/protection/scenario.js';

const ENVIRONMENTS = `environments:
  production:
    severity: P0
    required-reviewers: 1
    prevent-self-review: true
    deployment-branches: protected
    can-admins-bypass: false
`;
const policy = parsePolicy(`${POLICY}${ENVIRONMENTS}`, 'policy');
const rows: string[][] = [['repositories', 'run', 'requests', 'requests/repo', '304s', 'wall ms', 'ms/repo']];
const quiet = { logger: { info() {}, warning() {}, error() {}, debug() {} } };

for (const size of [10, 100, 500]) {
  const double = await new GitHubDouble().start();
  for (let index = 0; index < size; index++) {
    seed(double, `bench/repo-${index}`, {
      branches: [
        { name: 'main', classic: FULL_CLASSIC },
        { name: 'develop', classic: { requiredChecks: ['build'] } },
        { name: 'feature/x' },
      ],
      rulesets: [
        {
          id: 1,
          name: 'no force',
          enforcement: 'active',
          include: ['main', 'develop'],
          rules: [{ type: 'non_fast_forward' }, { type: 'deletion' }],
        },
      ],
      environments: [
        {
          name: 'production',
          reviewers: ['team:release-managers'],
          preventSelfReview: true,
          branches: 'protected',
          canAdminsBypass: false,
        },
      ],
      workflows: [
        { name: 'Build', file: 'build.yml', text: BUILD_WORKFLOW },
        {
          name: 'Release',
          file: 'release.yml',
          text: 'on: push\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps: [{ run: make }]\n',
        },
      ],
    });
  }
  const client = createGitHubClient({ token: 'bench', baseUrl: double.url });
  const measure = async (label: string, run: () => Promise<{ repositories: unknown[] }>) => {
    const before = double.requests.length;
    const started = performance.now();
    const report = await run();
    const ms = performance.now() - started;
    const requests = double.requests.slice(before);
    if (report.repositories.length !== size || double.violations.length > 0)
      throw new Error(
        `bench audit incomplete: ${report.repositories.length}/${size}, violations ${double.violations.length}`,
      );
    const notModified = requests.filter((request) => request.status === 304).length;
    const cells = [
      requests.length,
      (requests.length / size).toFixed(2),
      notModified,
      ms.toFixed(0),
      (ms / size).toFixed(2),
    ];
    rows.push([String(size), label, ...cells.map(String)]);
  };
  const org = { targets: [{ kind: 'org' as const, org: 'bench' }], policy, apply: false };
  for (const concurrency of [8, 1, 8, 1])
    await measure(`concurrency ${concurrency}`, () => audit(client, { ...org, concurrency }, quiet));
  // Across runs: the cache the first run leaves is what the second starts with (etag-cache + actions/cache).
  const cache = conditionalClient(client).cache;
  await measure('ETag cache, 1st run', () => audit(conditionalClient(client, undefined, cache), org, quiet));
  await measure('ETag cache, 2nd run', () => audit(conditionalClient(client, undefined, cache), org, quiet));
  await double.stop();
}
const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
for (const row of rows) console.log(row.map((cell, column) => cell.padStart(widths[column]!)).join('  '));
