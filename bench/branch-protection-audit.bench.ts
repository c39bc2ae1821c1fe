/**
 * branch-protection-audit in org mode against the GitHub double: requests and wall time for 10, 100 and 500
 * repositories (each with main and develop protected, one ruleset, two workflows), with concurrency 8 and, side
 * by side, one repository at a time (interleaved A,B,A,B). The figure that must hold: requests per repository
 * constant as the organisation grows; wall time per repository flat or falling.
 */
import { performance } from 'node:perf_hooks';
import { createGitHubClient } from '#core/github/client.js';
import { audit } from '#core/protection/audit.js';
import { parsePolicy } from '#core/protection/policy.js';
import { GitHubDouble } from '../test/support/github-double/index.js';
import { BUILD_WORKFLOW, FULL_CLASSIC, POLICY, seed } from '../test/protection/scenario.js';

const policy = parsePolicy(POLICY, 'policy');
const rows: string[][] = [['repositories', 'concurrency', 'requests', 'requests/repo', 'wall ms', 'ms/repo']];

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
  for (const concurrency of [8, 1, 8, 1]) {
    const before = double.requests.length;
    const started = performance.now();
    const report = await audit(
      client,
      { targets: [{ kind: 'org', org: 'bench' }], policy, apply: false, concurrency },
      { logger: { info() {}, warning() {}, error() {}, debug() {} } },
    );
    const ms = performance.now() - started;
    const requests = double.requests.length - before;
    if (report.repositories.length !== size || double.violations.length > 0)
      throw new Error(
        `bench audit incomplete: ${report.repositories.length}/${size}, violations ${double.violations.length}`,
      );
    rows.push([
      String(size),
      String(concurrency),
      String(requests),
      (requests / size).toFixed(2),
      ms.toFixed(0),
      (ms / size).toFixed(2),
    ]);
  }
  await double.stop();
}
const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
for (const row of rows) console.log(row.map((cell, column) => cell.padStart(widths[column]!)).join('  '));
