/**
 * How many API requests it takes to find the build run of one commit, as the repository's run history grows:
 * resolve-build-run (head_sha filter on the workflow's runs) against the seeds' approach
 * `gh run list --workflow "Build Artifacts" --limit 20 | jq 'select(.headSha==$sha)'`, simulated against the
 * same GitHub double: resolve the workflow by name, list its runs 20 per page, first page only, filter by headSha.
 * The commit looked for is the oldest run (a re-deploy or promotion of an older build) and the newest.
 */
import { performance } from 'node:perf_hooks';
import { resolveBuildRun } from '#core/build-run/resolve.js';
import { createGitHubClient } from '#core/github/client.js';
import { GitHubDouble } from '../test/support/github-double/index.js';

const WF = { id: 101, name: 'Build Artifacts', file: 'build-artifacts.yml' };
const shaOf = (i: number) => i.toString(16).padStart(40, '0');

async function ghRunListApproach(double: GitHubDouble, sha: string): Promise<{ requests: number; found: boolean }> {
  const before = double.requests.length;
  const workflows = (await (await fetch(`${double.url}/repos/octo/app/actions/workflows?per_page=100`)).json()) as {
    workflows: { id: number; name: string }[];
  };
  const id = workflows.workflows.find((wf) => wf.name === 'Build Artifacts')!.id;
  const runs = (await (
    await fetch(`${double.url}/repos/octo/app/actions/workflows/${id}/runs?per_page=20&page=1`)
  ).json()) as {
    workflow_runs: { id: number; head_sha: string; status: string; conclusion: string }[];
  };
  const hit = runs.workflow_runs.filter(
    (run) => run.head_sha === sha && run.status === 'completed' && run.conclusion === 'success',
  )[0];
  // jq prints `null` here, and `[ -z "$BUILD_RUN_ID" ]` lets it through.
  return { requests: double.requests.length - before, found: hit !== undefined };
}

/** What it takes to find the commit by listing the history instead (`gh run list --limit <big>`), 100 per page. */
async function pagingThroughHistory(double: GitHubDouble, sha: string): Promise<number> {
  const before = double.requests.length;
  for (let page = 1; ; page++) {
    const runs = (await (
      await fetch(`${double.url}/repos/octo/app/actions/workflows/101/runs?per_page=100&page=${page}`)
    ).json()) as {
      workflow_runs: { head_sha: string }[];
    };
    if (runs.workflow_runs.some((run) => run.head_sha === sha) || runs.workflow_runs.length < 100) break;
  }
  return double.requests.length - before;
}

const rows: string[][] = [];
let worstOurs = 0;
const withArtifact: number[] = [];
for (const total of [10, 1_000, 10_000]) {
  const double = await new GitHubDouble().start();
  const state = double.repo('octo/app');
  state.workflows.push(WF, { id: 102, name: 'CI', file: 'ci.yml' });
  for (let i = 0; i < total; i++) {
    state.runs.push({
      id: i + 1,
      workflowId: 101,
      headSha: shaOf(i + 1),
      runNumber: i + 1,
      createdAt: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    });
  }
  const client = createGitHubClient({ token: 'bench', baseUrl: double.url, retryUnitMs: 1 });
  for (const [label, sha] of [
    ['oldest', shaOf(1)],
    ['newest', shaOf(total)],
  ] as const) {
    let before = double.requests.length;
    const started = performance.now();
    const result = await resolveBuildRun(client, {
      owner: 'octo',
      repo: 'app',
      workflow: 'build-artifacts.yml',
      sha,
      conclusion: 'success',
      waitMs: 0,
      pollIntervalMs: 1000,
    });
    const ms = performance.now() - started;
    const ours = double.requests.length - before;
    worstOurs = Math.max(worstOurs, ours);
    if (result.run.headSha !== sha) throw new Error('resolved the wrong run');
    before = double.requests.length;
    const gh = await ghRunListApproach(double, sha);
    const paging = await pagingThroughHistory(double, sha);
    rows.push([
      String(total),
      label,
      `${ours} (found, ${ms.toFixed(0)} ms)`,
      `${gh.requests} (${gh.found ? 'found' : 'NOT FOUND → "null"'})`,
      String(paging),
    ]);
  }
  state.artifacts.push({ id: 1, runId: 1, name: `deployment-bundle-${shaOf(1)}` });
  const before = double.requests.length;
  await resolveBuildRun(client, {
    owner: 'octo',
    repo: 'app',
    workflow: 'build-artifacts.yml',
    sha: shaOf(1),
    conclusion: 'success',
    artifactName: 'deployment-bundle-{sha}',
    waitMs: 0,
    pollIntervalMs: 1000,
  });
  withArtifact.push(double.requests.length - before);
  if (double.violations.length > 0)
    throw new Error(`double served responses outside the schema: ${JSON.stringify(double.violations[0])}`);
  await double.stop();
}

console.log("API requests to resolve one commit's build run (no artifact check)");
console.log(
  ['runs in repo', 'commit', 'resolve-build-run', 'gh run list --limit 20 | jq', 'paging the history, 100/page'].join(
    ' | ',
  ),
);
for (const row of rows) console.log(row.join(' | '));
const missed = rows.filter((row) => row[3]!.includes('NOT FOUND')).length;
console.log(
  `\nresolve-build-run: at most ${worstOurs} requests at every size (target ≤ 3), found ${rows.length}/${rows.length}`,
);
console.log(`with artifact-name: ${withArtifact.join(', ')} requests (10, 1,000, 10,000 runs)`);
console.log(
  `gh run list approach: found ${rows.length - missed}/${rows.length}; ratio of commits found: ${rows.length}/${rows.length - missed} = ${(rows.length / (rows.length - missed)).toFixed(2)}x`,
);
if (worstOurs > 3) process.exitCode = 1;
