import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeReleases, releaseName, treeListing } from '../support/release-tree.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';
import { startSshd, type Sshd } from '../support/sshd.js';

// release-switch `mode: link`: what deploy.yml runs right after unpacking, so that pre-switch-gates check the new
// release with its shared files linked, as it will run — without switching anything.
const [A, B] = [1, 2].map(releaseName) as [string, string];

const runs: BundleRun[] = [];
async function step(action: string, inputs: Record<string, string>): Promise<BundleRun> {
  const run = await runBundle(action, inputs);
  runs.push(run);
  return run;
}

describe('dist/release-switch/index.js with mode: link', () => {
  let base: string;
  let sshd: Sshd;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), `dg-link-mode-${process.pid}-`));
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd.stop();
    await rm(base, { recursive: true, force: true });
    runs.splice(0).forEach(cleanup);
  });

  /** releases A (current) and B (just unpacked), shared/.env and shared/storage/. */
  async function layout(name: string): Promise<string> {
    const root = join(base, name);
    await makeReleases(root, [A, B]);
    await symlink(`releases/${A}`, join(root, 'current'));
    await mkdir(join(root, 'shared/storage/logs'), { recursive: true });
    await writeFile(join(root, 'shared/.env'), 'APP_ENV=production\n');
    return root;
  }

  it.each(['local', 'ssh'])(
    'links into the new release without switching (%s); the gates then pass on it, and the switch finds them linked',
    async (where) => {
      const root = await layout(`${where} app`);
      const target: Record<string, string> =
        where === 'ssh' ? { target: sshd.address, 'ssh-key': sshd.privateKey, 'known-hosts': sshd.knownHosts } : {};
      const history = join(root, '.deploy-gates/history.jsonl');
      const linked = await step('release-switch', {
        'releases-root': root,
        release: B,
        mode: 'link',
        shared: '.env\nstorage/\n',
        ...target,
      });
      expect(linked.exitCode).toBe(0);
      expect(linked.outputs).toMatchObject({ switched: 'false', 'current-release': A });
      expect(readlinkSync(join(root, 'current'))).toBe(`releases/${A}`);
      expect(readlinkSync(join(root, 'releases', B, 'storage'))).toBe('../../shared/storage');
      expect(existsSync(history)).toBe(false);
      const report = JSON.parse(readFileSync(linked.outputs.report!, 'utf8')) as {
        stage: string;
        results: { name: string; status: string }[];
        details: { mode: string; roundTrips: number };
      };
      expect(report.results.map((r) => [r.name, r.status])).toEqual([
        ['shared: .env', 'pass'],
        ['shared: storage/', 'pass'],
      ]);
      expect(report.stage).toBe('link');
      expect(report.details).toMatchObject({ mode: 'link', roundTrips: 1 });

      const gates = await step('pre-switch-gates', {
        'release-dir': join(root, 'releases', B),
        gates: '- file: .env\n- dir: storage\n  writable: true\n- dir: storage/logs\n',
        ...target,
      });
      expect(gates.exitCode).toBe(0);

      const switched = await step('release-switch', {
        'releases-root': root,
        release: B,
        shared: '.env\nstorage/\n',
        ...target,
      });
      expect(switched.exitCode).toBe(0);
      expect(readlinkSync(join(root, 'current'))).toBe(`releases/${B}`);
      expect(switched.summary).toContain('already linked');
    },
  );

  it('refuses what it cannot do, naming the input or the path, and changes nothing', async () => {
    const root = await layout('refused app');
    const before = treeListing(root);
    const noShared = await step('release-switch', { 'releases-root': root, release: B, mode: 'link' });
    expect(noShared.exitCode).toBe(1);
    expect(noShared.log).toContain('::error::Input "shared": needs at least one entry when mode is link');
    const noRelease = await step('release-switch', { 'releases-root': root, mode: 'link', shared: '.env' });
    expect(noRelease.exitCode).toBe(1);
    expect(noRelease.log).toContain('::error::Input "release": is required when mode is link');
    const missing = await step('release-switch', {
      'releases-root': root,
      release: B,
      mode: 'link',
      shared: 'bootstrap/cache/',
    });
    expect(missing.exitCode).toBe(1);
    expect(missing.log).toContain(`mkdir -p '${join(root, 'shared/bootstrap/cache')}'`);
    // The live release is never linked into: its links would change what runs now.
    const live = await step('release-switch', { 'releases-root': root, release: A, mode: 'link', shared: '.env' });
    expect(live.exitCode).toBe(1);
    expect(live.log).toContain('it is already current');
    expect(treeListing(root).filter((line) => !line.startsWith('.deploy-lock'))).toEqual(before);
  });
});
