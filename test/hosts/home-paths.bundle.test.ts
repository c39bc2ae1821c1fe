import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { shellPath } from '#core/hosts/target.js';
import { makeReleases, releaseName } from '../support/release-tree.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const [A, B] = [1, 2].map(releaseName) as [string, string];

describe("paths under the target user's home (`~/…`)", () => {
  let sshd: Sshd;
  let home: string;
  const runs: BundleRun[] = [];
  beforeAll(async () => {
    sshd = await startSshd();
    // The sshd runs as this user, so ~ is the same directory on both targets.
    home = await mkdtemp(join(homedir(), '.dg-home-paths-'));
  });
  afterAll(async () => {
    await sshd.stop();
    await rm(home, { recursive: true, force: true });
    runs.splice(0).forEach(cleanup);
  });

  it('quotes everything after ~/ and expands only the leading ~', () => {
    expect(shellPath('~')).toBe('"$HOME"');
    expect(shellPath('~/')).toBe('"$HOME"/');
    expect(shellPath("~/app $(id) 'x'")).toBe(`"$HOME"/'app $(id) '\\''x'\\'''`);
    expect(shellPath('~user/app')).toBe("'~user/app'");
    expect(shellPath('/srv/~/app')).toBe("'/srv/~/app'");
  });

  it.each(['local', 'ssh'])('release-switch and pre-switch-gates take ~/ paths on the %s target', async (kind) => {
    const target: Record<string, string> =
      kind === 'ssh' ? { target: sshd.address, 'ssh-key': sshd.privateKey, 'known-hosts': sshd.knownHosts } : {};
    const root = join(home, `app ${kind}`);
    await makeReleases(root, [A, B]);
    await writeFile(join(root, 'releases', B, 'artisan'), '#!/usr/bin/env php\n');
    const tilde = `~/${basename(home)}/app ${kind}`;

    const first = await runBundle('release-switch', { ...target, 'releases-root': tilde, release: A });
    runs.push(first);
    expect(first.exitCode).toBe(0);
    const second = await runBundle('release-switch', {
      ...target,
      'releases-root': tilde,
      release: `${tilde}/releases/${B}`,
    });
    runs.push(second);
    expect(second.exitCode).toBe(0);
    expect(second.outputs).toMatchObject({ 'current-release': B, 'previous-release': A, switched: 'true' });
    expect(readlinkSync(join(root, 'current'))).toBe(`releases/${B}`);

    const gates = await runBundle(
      'pre-switch-gates',
      { ...target, 'release-dir': `${tilde}/current`, gates: '- file: artisan\n- file: marker' },
      { GITHUB_WORKSPACE: root },
    );
    runs.push(gates);
    expect(gates.exitCode).toBe(0);
    expect(gates.outputs).toMatchObject({ passed: '2', failed: '0', total: '2' });
    expect(gates.summary).toContain(`| Release | ${join(root, 'current')} |`);
  });
});
