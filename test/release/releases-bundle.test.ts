import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { formatHistoryLine, HISTORY_FILE } from '#core/release/history.js';
import type { ReleasesListing } from '#core/release/listing.js';
import { parseReportDocument } from '#core/report/document.js';
import { node24, repoRoot } from '../support/paths.js';
import { makeReleases, releaseName, treeListing } from '../support/release-tree.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const [A, B, C] = [1, 2, 3].map(releaseName) as [string, string, string];
const SHA = 'f0959baf'.repeat(5);

const runs: BundleRun[] = [];
async function step(inputs: Record<string, string>): Promise<BundleRun> {
  const run = await runBundle('releases', inputs);
  runs.push(run);
  return run;
}

describe('dist/releases/index.js and `deploy-gates releases`', () => {
  let base: string;
  let sshd: Sshd;
  let root: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), `dg-releases-action-${process.pid}-`));
    sshd = await startSshd();
    root = join(base, 'app');
    await makeReleases(root, [A, B, C]);
    await symlink(`releases/${B}`, join(root, 'current'));
    await mkdir(join(root, '.deploy-gates'));
    const entry = { v: 1, sha: SHA, run: 'run octo-org/app#7/1 (Deploy / deploy)', from: null } as const;
    await writeFile(
      join(root, HISTORY_FILE),
      [
        formatHistoryLine({ ...entry, at: '2026-12-03T15:00:00.000Z', release: A, outcome: 'live' }),
        formatHistoryLine({ ...entry, at: '2026-12-03T15:10:00.000Z', release: B, outcome: 'live' }),
      ].join(''),
    );
  });
  afterAll(async () => {
    await sshd.stop();
    await rm(base, { recursive: true, force: true });
    runs.splice(0).forEach(cleanup);
  });

  it('lists over ssh: outputs, a summary table, the listing in a valid report, nothing changed', async () => {
    const before = treeListing(root);
    const run = await step({
      'releases-root': root,
      target: sshd.address,
      'ssh-key': sshd.privateKey,
      'known-hosts': sshd.knownHosts,
    });
    expect(run.exitCode).toBe(0);
    expect(run.outputs).toEqual({
      'current-release': B,
      count: '3',
      report: join(run.runnerTemp, 'deploy-gates/releases-report.json'),
    });
    expect(run.summary).toContain('| Release | State | SHA | Latest entry | By |');
    expect(run.summary).toContain(
      `| ${B.replace('_', '\\_')} | ▶ current | \`${SHA.slice(0, 12)}\` | live 2026-12-03 15:10:00 UTC | run octo-org/app#7/1 (Deploy / deploy) |`,
    );
    expect(run.summary).toContain(`| ${C.replace('_', '\\_')} | never switched | — | — | — |`);
    const parsed = parseReportDocument(JSON.parse(readFileSync(run.outputs.report!, 'utf8')));
    expect(parsed.success).toBe(true);
    const report = parsed.data!;
    expect(report).toMatchObject({ action: 'releases', stage: 'inventory', ok: true, currentRelease: B });
    const listing = report.details as ReleasesListing;
    expect(listing.releases.map((r) => [r.name, r.state, r.sha])).toEqual([
      [C, 'never-switched', null],
      [B, 'current', SHA],
      [A, 'was-live', SHA],
    ]);
    expect(treeListing(root)).toEqual(before);
  });

  it('fails naming the history file and line when a line does not parse', async () => {
    const broken = join(base, 'broken');
    await makeReleases(broken, [A]);
    await mkdir(join(broken, '.deploy-gates'));
    writeFileSync(join(broken, HISTORY_FILE), 'not json\n');
    const run = await step({ 'releases-root': broken });
    expect(run.exitCode).toBe(1);
    expect(run.log).toContain(`::error::${join(broken, HISTORY_FILE)} on local line 1 is not JSON: "not json"`);
  });

  it('fails clearly on a history above the size limit, and still writes the report', async () => {
    const huge = join(base, 'huge');
    await makeReleases(huge, [A]);
    await mkdir(join(huge, '.deploy-gates'));
    writeFileSync(join(huge, HISTORY_FILE), '');
    // 600 MiB, sparse: read whole, it once crashed the step with ERR_STRING_TOO_LONG and no report.
    await truncate(join(huge, HISTORY_FILE), 600 * 1024 * 1024);
    const run = await step({ 'releases-root': huge });
    expect(run.exitCode).toBe(1);
    expect(run.log).toContain(
      `::error::${join(huge, HISTORY_FILE)} on local is ${600 * 1024 * 1024} bytes, larger than the 64 MiB the releases action reads`,
    );
    const parsed = parseReportDocument(JSON.parse(readFileSync(run.outputs.report!, 'utf8')));
    expect(parsed.data).toMatchObject({ action: 'releases', ok: false });
  }, 60_000);

  it('runs from the CLI with --target and --releases-root', async () => {
    const result = await promisify(execFile)(
      node24,
      [
        join(repoRoot, 'dist/cli/index.js'),
        'releases',
        '--target',
        'local',
        '--releases-root',
        root,
        '--out',
        join(base, 'cli-out'),
      ],
      { cwd: repoRoot },
    );
    expect(result.stdout).toContain('current-release=' + B);
    expect(result.stdout).toContain('| Release | State | SHA | Latest entry | By |');
    expect(result.stdout).toContain('releases succeeded');
  });
});
