import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeReleases, releaseName, treeListing } from '../support/release-tree.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const [A, B] = [1, 2].map(releaseName) as [string, string];

const runs: BundleRun[] = [];
async function step(inputs: Record<string, string>): Promise<BundleRun> {
  const run = await runBundle('release-switch', inputs);
  runs.push(run);
  return run;
}

describe('dist/release-switch/index.js with shared', () => {
  let base: string;
  let sshd: Sshd;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), `dg-shared-action-${process.pid}-`));
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd.stop();
    await rm(base, { recursive: true, force: true });
    runs.splice(0).forEach(cleanup);
  });

  it('links .env and storage/ over ssh before the hooks, in the summary and the report', async () => {
    const root = join(base, 'ssh app');
    await makeReleases(root, [A, B]);
    await mkdir(join(root, 'shared/storage'), { recursive: true });
    await writeFile(join(root, 'shared/.env'), 'APP_ENV=production\n');
    const run = await step({
      'releases-root': root,
      release: B,
      shared: '.env\nstorage/\n',
      'before-switch': 'grep -q APP_ENV=production .env && test -d storage',
      target: sshd.address,
      'ssh-key': sshd.privateKey,
      'known-hosts': sshd.knownHosts,
    });
    expect(run.exitCode).toBe(0);
    expect(readlinkSync(join(root, 'releases', B, '.env'))).toBe('../../shared/.env');
    expect(readlinkSync(join(root, 'releases', B, 'storage'))).toBe('../../shared/storage');
    expect(run.summary).toContain('shared: storage/');
    const report = JSON.parse(readFileSync(run.outputs.report!, 'utf8')) as { results: { name: string }[] };
    expect(report.results.map((r) => r.name)).toEqual([
      'release',
      'shared: .env',
      'shared: storage/',
      'before-switch: grep -q APP_ENV=production .env && test -d storage',
      'switch current',
      'prune',
    ]);
  });

  it('refuses a bad shared path naming the input, and a shipped directory naming it, changing nothing', async () => {
    const root = join(base, 'local app');
    await makeReleases(root, [A]);
    await mkdir(join(root, 'releases', A, 'storage'));
    await mkdir(join(root, 'shared/storage'), { recursive: true });
    const before = treeListing(root);
    const bad = await step({ 'releases-root': root, release: A, shared: '../outside/' });
    expect(bad.exitCode).toBe(1);
    expect(bad.log).toContain('::error::Input "shared": "../outside/" has an empty, "." or ".." part');
    const shipped = await step({ 'releases-root': root, release: A, shared: 'storage/' });
    expect(shipped.exitCode).toBe(1);
    expect(shipped.log).toContain(
      `::error::shared entry storage/: the release ships a directory at releases/${A}/storage; remove it from the bundle, or set shared-replace: true`,
    );
    expect(treeListing(root).filter((line) => !line.startsWith('.deploy-lock'))).toEqual(before);
    const replaced = await step({ 'releases-root': root, release: A, shared: 'storage/', 'shared-replace': 'true' });
    expect(replaced.exitCode).toBe(0);
    expect(readlinkSync(join(root, 'releases', A, 'storage'))).toBe('../../shared/storage');
  });
});
