import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTarget } from '#core/hosts/local.js';
import { shellQuote } from '#core/hosts/target.js';
import { laravelRelease, makeTree, removeTree, writeTree } from '../support/releases.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const SECRET = 'hc_Lk29-bundle-secret-token-77';

const runs: BundleRun[] = [];
/** The step as the runner starts it, with the repository checked out at `workspace`. */
async function step(
  workspace: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {},
): Promise<BundleRun> {
  const run = await runBundle('pre-switch-gates', inputs, { GITHUB_WORKSPACE: workspace, ...env });
  runs.push(run);
  return run;
}

/** The log without the `::add-mask::` commands, which hand secrets to the runner and never reach the visible log. */
const visible = (log: string) =>
  log
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');

describe('dist/pre-switch-gates/index.js (run like the runner)', () => {
  const target = new LocalTarget();
  let release: string;
  let workspace: string;

  beforeAll(async () => {
    release = await makeTree(target, laravelRelease());
    await writeTree(target, release, { '.env': `APP_ENV=staging\nHEALTHCHECK_TOKEN="${SECRET}"\n` });
    workspace = await mkdtemp(join(tmpdir(), 'gates-workspace-'));
    await mkdir(join(workspace, '.github'), { recursive: true });
    await writeFile(
      join(workspace, '.github/gates.yml'),
      [
        '# extra gates kept in the repository',
        '- absent: public/hot',
        '- json: composer.json',
        '  expect: name=acme/api',
        '- env-match: {key: HEALTHCHECK_TOKEN, secret-env: HEALTHCHECK_TOKEN}',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await removeTree(target, release);
    await rm(workspace, { recursive: true, force: true });
    runs.splice(0).forEach(cleanup);
  });

  it('runs the laravel preset plus inline and file gates, fails on one, writes outputs, summary and report, and never shows the secret', async () => {
    const run = await step(
      workspace,
      {
        'release-dir': release,
        preset: 'laravel',
        gates: `- env-match: {file: .env, key: HEALTHCHECK_TOKEN, secret: "${SECRET}"}\n- symlink: .env\n  name: .env is shared\n`,
        'gates-file': '.github/gates.yml',
        layer: 'staging',
      },
      { HEALTHCHECK_TOKEN: SECRET },
    );
    // `.env` is a file here, not a symlink: one gate fails on purpose, every other one runs and passes.
    expect({ exitCode: run.exitCode, outputs: { ...run.outputs, report: undefined } }).toEqual({
      exitCode: 1,
      outputs: { passed: '15', failed: '1', total: '16', report: undefined },
    });
    expect(run.summary).toContain('### ❌ Pre-switch gates (staging): FAILED (15/16 passed, 1 failed)');
    expect(run.summary).toContain('| .env is shared | ❌ fail | expected a symlink, found a regular file |');
    // The summary escapes markdown punctuation in untrusted text (`_` included).
    expect(run.summary).toContain(
      '| env-match .env HEALTHCHECK\\_TOKEN | ✅ pass | HEALTHCHECK\\_TOKEN in .env matches the secret (SHA-256 compared; neither value shown) |',
    );
    // One annotation: the failure, then the failed gate.
    expect(run.log).toContain(
      '::error::Pre-switch gates (staging): FAILED (1 of 16 gates failed). Nothing was changed on local; do not switch to this release — fix it and deploy again.%0A.env is shared: expected a symlink, found a regular file',
    );
    expect(run.log).not.toContain('::error title=');
    const report = await readFile(run.outputs.report!, 'utf8');
    expect(JSON.parse(report)).toMatchObject({
      action: 'pre-switch-gates',
      stage: 'gates',
      ok: false,
      details: { layer: 'staging', target: 'local', releaseDir: release, passed: 15, failed: 1, total: 16 },
    });
    expect(run.log).toContain(`::add-mask::${SECRET}`);
    for (const text of [visible(run.log), run.summary, report, JSON.stringify(run.outputs)])
      expect(text).not.toContain(SECRET);
  });

  it('reads `9/9 PASSED`-style headlines on success and changes nothing in the release', async () => {
    const listing = async () =>
      (await target.run(`cd ${shellQuote(release)} && find . -exec ls -ld --time-style=full-iso {} + | sort`)).stdout;
    const before = await listing();
    const run = await step(workspace, { 'release-dir': release, preset: 'laravel', layer: 'pre-switch' });
    expect(run.exitCode).toBe(0);
    expect(run.outputs).toMatchObject({ passed: '11', failed: '0', total: '11' });
    expect(run.summary).toContain('### ✅ Pre-switch gates (pre-switch): 11/11 PASSED');
    // The table the issue asks for: gate, result, detail, time.
    expect(run.summary).toContain('| Gate | Result | Detail | Time |');
    expect(run.summary).toContain('| php artisan --version | ✅ pass | exit 0: Laravel Framework 11.31.0 |');
    expect(await listing()).toBe(before);

    // Layer 1: the build workspace itself, as `release-dir: .` relative to GITHUB_WORKSPACE.
    const workspaceRun = await step(release, { 'release-dir': '.', preset: 'laravel', layer: 'pre-bundle' });
    expect(workspaceRun.exitCode).toBe(0);
    expect(workspaceRun.summary).toContain('### ✅ Pre-switch gates (pre-bundle): 11/11 PASSED');
    expect(workspaceRun.summary).toContain(`| Release | ${release} |`);
    // One script for the 9 structure checks, one per PHP command.
    expect(workspaceRun.summary).toContain('| Round trips | 2 |');
  });

  it('fails clearly on a missing release directory, bad YAML in the gates file, or no gates at all', async () => {
    const missing = await step(workspace, { 'release-dir': `${release}-missing`, preset: 'laravel' });
    expect(missing.exitCode).toBe(1);
    expect(missing.log).toContain(
      `::error::Input "release-dir": ${release}-missing does not exist on local; pass the directory the release was unpacked into`,
    );

    await writeFile(
      join(workspace, 'bad.yml'),
      `- file: artisan\n- env-match: {key: HEALTHCHECK_TOKEN, secret: ${SECRET}, sha: 1}\n- dir: ../shared\n`,
    );
    const bad = await step(workspace, { 'release-dir': release, 'gates-file': 'bad.yml' });
    expect(bad.exitCode).toBe(1);
    expect(visible(bad.log)).toContain(
      // In a flow-style env-match an unknown key is not quoted: it may be the tail of a secret the YAML split.
      'Input "gates-file" (bad.yml) has 2 problems:%0A- line 2: an unknown key for env-match (not shown: it may be part of a secret split at a comma); valid keys: file, key, secret, secret-env; pass the secret as secret-env (a step environment variable) so no YAML reads it%0A- line 3: dir "../shared" leaves the release directory',
    );
    expect(visible(bad.log)).not.toContain(SECRET);

    const none = await step(workspace, { 'release-dir': release });
    expect(none.log).toContain(
      '::error::No gates to run: set "preset" (laravel, node or python), "gates" (a YAML list) or "gates-file"',
    );
    const noFile = await step(workspace, { 'release-dir': release, 'gates-file': 'gates/missing.yml' });
    expect(noFile.log).toContain(
      `::error::Input "gates-file": cannot read gates/missing.yml (no such file in ${workspace})`,
    );
  });

  describe('on an ssh target (a real sshd on loopback)', () => {
    let sshd: Sshd;
    beforeAll(async () => {
      sshd = await startSshd();
    });
    afterAll(() => sshd.stop());

    it('runs the preset and a secret gate over ssh, with the key masked and removed afterwards', async () => {
      const ssh = { target: sshd.address, 'ssh-key': sshd.privateKey, 'known-hosts': sshd.knownHosts };
      const run = await step(
        workspace,
        {
          ...ssh,
          'release-dir': release,
          preset: 'laravel',
          gates: '- env-match: {file: .env, key: HEALTHCHECK_TOKEN, secret-env: HEALTHCHECK_TOKEN}\n',
          layer: 'production',
        },
        { HEALTHCHECK_TOKEN: SECRET },
      );
      expect(run.exitCode).toBe(0);
      expect(run.outputs).toMatchObject({ passed: '12', failed: '0', total: '12' });
      expect(run.summary).toContain('### ✅ Pre-switch gates (production): 12/12 PASSED');
      expect(run.summary).toContain('| php artisan --version | ✅ pass | exit 0: Laravel Framework 11.31.0 |');
      const report = await readFile(run.outputs.report!, 'utf8');
      expect(JSON.parse(report)).toMatchObject({
        action: 'pre-switch-gates',
        ok: true,
        details: { target: sshd.address, releaseDir: release, passed: 12, failed: 0, roundTrips: 2 },
      });
      expect(run.summary).toContain('| Round trips | 2 |');
      const keyLines = sshd.privateKey.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));
      for (const text of [visible(run.log), run.summary, report, JSON.stringify(run.outputs)]) {
        expect(text).not.toContain(SECRET);
        for (const line of keyLines) expect(text).not.toContain(line);
      }
      // Only the report is left in RUNNER_TEMP: the key directory is gone.
      expect(readdirSync(run.runnerTemp)).toEqual(['deploy-gates']);
    });

    it('fails a changed host key with the fix, before any gate runs', async () => {
      const run = await step(workspace, {
        target: sshd.address,
        'ssh-key': sshd.privateKey,
        'known-hosts': sshd.wrongKnownHosts,
        'release-dir': release,
        preset: 'laravel',
      });
      expect(run.exitCode).toBe(1);
      expect(run.log).toContain(
        `the known-hosts entry for [127.0.0.1]:${sshd.port} does not match the server's host key`,
      );
      // The key directory is gone; what is left is the failed step's report, which says why.
      expect(readdirSync(run.runnerTemp)).toEqual(['deploy-gates']);
      expect(readdirSync(join(run.runnerTemp, 'deploy-gates'))).toEqual(['pre-switch-gates-report.json']);
    });
  });
});
