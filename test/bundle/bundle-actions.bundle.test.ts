import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseReportDocument } from '#core/report/document.js';
import { rawTarGz, sha256sum, writeTree } from '../support/bundles.js';
import { GitHubDouble, zipFiles } from '../support/github-double/index.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const SHA = '62584375aa1b2c3d4e5f60718293a4b5c6d7e8f9';
const TOKEN = 'ghs_bundleActionsToken42';
const NAME = `deployment-bundle-${SHA}`;

let root: string;
let double: GitHubDouble;
let sshd: Sshd;
const runs: BundleRun[] = [];
async function step(
  action: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {},
): Promise<BundleRun> {
  const run = await runBundle(action, inputs, env);
  runs.push(run);
  return run;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'bundle-actions-'));
  writeTree(join(root, 'app'), {
    'public/index.php': '<?php echo 1;\n',
    artisan: '#!/usr/bin/env php\n',
    'storage/logs/x.log': 'noise',
    '.git/HEAD': 'ref',
  });
  [double, sshd] = await Promise.all([new GitHubDouble().start(), startSshd()]);
  double.token = TOKEN;
  const state = double.repo('octo/app');
  state.workflows.push({ id: 101, name: 'Build', file: 'build.yml' });
  state.runs.push({ id: 813, workflowId: 101, headSha: SHA, runNumber: 813 });
});

afterAll(async () => {
  await Promise.all([double.stop(), sshd.stop()]);
  runs.splice(0).forEach(cleanup);
  rmSync(root, { recursive: true, force: true });
  expect(double.violations).toEqual([]);
});

describe('dist/pack-bundle and dist/verify-bundle-sha on node24', () => {
  let bundlePath: string;
  let sha256: string;

  it('pack-bundle: the same tree twice gives the same bytes; outputs name the bundle, its .sha256, size and entries', async () => {
    const inputs = { path: 'app', exclude: '.git\nstorage/logs/*.log', mtime: '2026-11-23T08:00:00Z' };
    const env = { GITHUB_WORKSPACE: root, GITHUB_SHA: SHA };
    const first = await step('pack-bundle', { ...inputs, 'output-dir': join(root, 'out-1') }, env);
    const second = await step('pack-bundle', { ...inputs, 'output-dir': join(root, 'out-2') }, env);
    expect(first.exitCode).toBe(0);
    expect(second.exitCode).toBe(0);
    bundlePath = join(root, 'out-1', `${NAME}.tar.gz`);
    sha256 = sha256sum(bundlePath);
    expect(first.outputs).toEqual({
      'bundle-path': bundlePath,
      'checksum-path': `${bundlePath}.sha256`,
      sha256,
      size: String(readFileSync(bundlePath).length),
      files: '5',
      report: expect.stringMatching(/pack-bundle-report\.json$/),
    });
    expect(second.outputs.sha256).toBe(sha256);
    expect(readFileSync(join(root, 'out-2', `${NAME}.tar.gz`)).equals(readFileSync(bundlePath))).toBe(true);
    expect(readFileSync(`${bundlePath}.sha256`, 'utf8')).toBe(`${sha256}  ${NAME}.tar.gz\n`);
    expect(first.summary).toContain('Bundle: 1/1 PASSED');
    expect(first.summary).toContain(sha256);
  });

  it('pack-bundle: a bad mtime names the input and writes nothing', async () => {
    const result = await step(
      'pack-bundle',
      { path: 'app', mtime: 'yesterday', 'output-dir': join(root, 'out-bad') },
      { GITHUB_WORKSPACE: root, GITHUB_SHA: SHA },
    );
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toContain('::error::Input "mtime": "yesterday" is not a time from 1970 to 2242');
    expect(existsSync(join(root, 'out-bad'))).toBe(false);
    // A day its month does not have (no rollover to March), and a time past what a tar header holds (no clamping).
    for (const mtime of ['2026-02-30T00:00:00Z', '99999999999']) {
      const bad = await step(
        'pack-bundle',
        { path: 'app', mtime, 'output-dir': join(root, 'out-bad') },
        { GITHUB_WORKSPACE: root, GITHUB_SHA: SHA },
      );
      expect(bad.stdout).toContain(`::error::Input "mtime": "${mtime}" is not a time from 1970 to 2242`);
    }
    expect(existsSync(join(root, 'out-bad'))).toBe(false);
  });

  it('verify-bundle-sha: downloads the artifact of the build run and unpacks it on the ssh target, checked on the host', async () => {
    const zip = zipFiles({
      [`${NAME}.tar.gz`]: readFileSync(bundlePath),
      [`${NAME}.tar.gz.sha256`]: readFileSync(`${bundlePath}.sha256`),
    });
    double.repo('octo/app').artifacts.push({
      id: 77,
      runId: 813,
      name: NAME,
      sizeInBytes: zip.length,
      digest: `sha256:${createHash('sha256').update(zip).digest('hex')}`,
      zip,
    });
    const releases = join(root, 'srv/app/releases');
    const result = await step(
      'verify-bundle-sha',
      {
        'run-id': '813',
        'artifact-name': NAME,
        'artifact-id': '77',
        'expected-sha256': sha256,
        'extract-to': releases,
        target: sshd.address,
        'ssh-key': sshd.privateKey,
        'known-hosts': sshd.knownHosts,
      },
      { GITHUB_API_URL: double.url, GITHUB_REPOSITORY: 'octo/app', GITHUB_SHA: SHA, GITHUB_TOKEN: TOKEN },
    );
    expect(result.exitCode).toBe(0);
    const [release] = readdirSync(releases);
    expect(release).toMatch(/^\d{8}_\d{6}-62584375$/);
    expect(result.outputs).toEqual({
      sha256,
      'bundle-path': expect.stringMatching(new RegExp(`^${result.runnerTemp}/dg-artifact-[^/]+/${NAME}\\.tar\\.gz$`)),
      verified: 'true',
      provenance: 'off',
      'release-dir': `${releases}/${release}`,
      'release-name': release,
      files: '5',
      report: join(result.runnerTemp, 'deploy-gates/verify-bundle-sha-report.json'),
    });
    expect(readFileSync(join(releases, release!, 'public/index.php'), 'utf8')).toBe('<?php echo 1;\n');
    expect(existsSync(join(releases, release!, 'storage/logs/x.log'))).toBe(false);
    expect(result.summary).toContain('Bundle verification: 5/5 PASSED');
    expect(result.log.split('\n').filter((line) => !line.startsWith('::add-mask::') && line.includes(TOKEN))).toEqual(
      [],
    );
    const report = JSON.parse(readFileSync(result.outputs.report!, 'utf8')) as {
      ok: boolean;
      results: { name: string }[];
    };
    expect(report.ok).toBe(true);
    expect(report.results.map((item) => item.name)).toEqual([
      'Download',
      'Artifact digest',
      'Checksum',
      'Entries',
      'Unpack',
    ]);
    expect(JSON.stringify(report)).not.toContain(TOKEN);
  });

  it('verify-bundle-sha: a mismatch fails with both hashes, writes no output and unpacks nothing', async () => {
    const releases = join(root, 'mismatch/releases');
    const wrong = 'ab'.repeat(32);
    const result = await step(
      'verify-bundle-sha',
      {
        bundle: bundlePath,
        'checksum-file': join(root, 'none.sha256'),
        'expected-sha256': wrong,
        'extract-to': releases,
      },
      { GITHUB_SHA: SHA },
    );
    // The checksum file named does not exist: that input is told first.
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toContain('::error::Input "checksum-file":');
    const bare = join(root, 'bare');
    mkdirSync(bare);
    writeFileSync(join(bare, `${NAME}.tar.gz`), readFileSync(bundlePath));
    const mismatch = await step(
      'verify-bundle-sha',
      { bundle: join(bare, `${NAME}.tar.gz`), 'expected-sha256': wrong, 'extract-to': releases },
      { GITHUB_SHA: SHA },
    );
    expect(mismatch.exitCode).not.toBe(0);
    // No output but the report's path: the failed step's evidence.
    expect(mismatch.outputs).toEqual({ report: expect.stringMatching(/verify-bundle-sha-report\.json$/) });
    expect(mismatch.stdout).toContain(
      `::error::SHA-256 mismatch for ${NAME}.tar.gz: expected ${wrong} (expected-sha256), got ${sha256}; nothing was unpacked`,
    );
    expect(existsSync(releases)).toBe(false);
  });

  it('verify-bundle-sha: a release already there fails the step, and its report says so (evidence of the failure)', async () => {
    const releases = join(root, 'existing/releases');
    const release = `20251102_154900-${SHA.slice(0, 8)}`;
    mkdirSync(join(releases, release), { recursive: true });
    const result = await step(
      'verify-bundle-sha',
      {
        bundle: bundlePath,
        'extract-to': releases,
        'release-name': release,
        'report-path': join(root, 'existing/verify.json'),
      },
      { GITHUB_SHA: SHA },
    );
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toMatch(/::error::.*already exists; a release is never overwritten/);
    expect(result.outputs).toEqual({ report: join(root, 'existing/verify.json') });
    const document = JSON.parse(readFileSync(join(root, 'existing/verify.json'), 'utf8')) as Record<string, unknown>;
    expect(parseReportDocument(document).success).toBe(true);
    expect(document).toMatchObject({
      action: 'verify-bundle-sha',
      stage: 'verify',
      ok: false,
      results: [{ name: 'step', status: 'fail', detail: expect.stringMatching(/already exists; a release is never/) }],
    });
  });

  it('verify-bundle-sha: a hostile bundle is refused on the ssh target with the entry named, nothing left in extract-to', async () => {
    const hostile = join(root, 'hostile.tar.gz');
    writeFileSync(
      hostile,
      rawTarGz([
        { path: 'index.php', body: '<?php' },
        { path: '/etc/cron.d/x', body: '* * * * * root id' },
      ]),
    );
    const releases = join(root, 'hostile/releases');
    mkdirSync(releases, { recursive: true });
    const result = await step('verify-bundle-sha', {
      bundle: hostile,
      'expected-sha256': sha256sum(hostile),
      'extract-to': releases,
      'release-name': '20261123_080000-62584375',
      target: sshd.address,
      'ssh-key': sshd.privateKey,
      'known-hosts': sshd.knownHosts,
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toContain(
      '::error::Bundle refused: entry "/etc/cron.d/x" is an absolute path; nothing was unpacked',
    );
    expect(readdirSync(releases)).toEqual([]);
  });

  it('verify-bundle-sha: needs a bundle or a run and artifact, told by input name', async () => {
    const none = await step('verify-bundle-sha', {});
    expect(none.stdout).toContain('::error::Input "bundle": is empty and so are run-id and artifact-name');
    const half = await step('verify-bundle-sha', { 'artifact-name': NAME });
    expect(half.stdout).toContain('::error::Input "run-id": is empty');
    const id = await step('verify-bundle-sha', { 'run-id': '813', 'artifact-name': NAME, 'artifact-id': '7e7' });
    expect(id.stdout).toContain(
      `::error::Input "artifact-id": "7e7" is not an artifact id (a number, e.g. resolve-build-run's artifact-id output)`,
    );
    const size = await step('verify-bundle-sha', { bundle: bundlePath, 'max-size': 'lots' });
    expect(size.stdout).toContain('::error::Input "max-size": "lots" is not a size');
  });
});
