import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { shellQuote } from '#core/hosts/target.js';
import { parseHistory } from '#core/release/history.js';
import { makeReleases, releaseName, treeListing } from '../support/release-tree.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const [A, B, C] = [1, 2, 3].map(releaseName) as [string, string, string];

const runs: BundleRun[] = [];
async function step(inputs: Record<string, string>): Promise<BundleRun> {
  const run = await runBundle('release-switch', inputs);
  runs.push(run);
  return run;
}

describe('dist/release-switch/index.js', () => {
  let base: string;
  let sshd: Sshd;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'dg-switch-action-'));
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd.stop();
    await rm(base, { recursive: true, force: true });
    runs.splice(0).forEach(cleanup);
  });

  it('switches, then rolls back a failed after-switch hook, with outputs, summary and report', async () => {
    const root = join(base, 'local app');
    await makeReleases(root, [A, B, C]);
    const first = await step({ 'releases-root': root, release: A });
    expect(first.exitCode).toBe(0);
    expect(first.outputs).toEqual({
      'current-release': A,
      switched: 'true',
      'rolled-back': 'false',
      report: join(first.runnerTemp, 'deploy-gates/release-switch-report.json'),
    });
    expect(readlinkSync(join(root, 'current'))).toBe(`releases/${A}`);
    expect(first.summary).toContain('Release switch: 3/3 PASSED');

    const failed = await step({ 'releases-root': root, release: C, 'after-switch': 'echo reloading\nexit 4' });
    expect(failed.exitCode).toBe(1);
    expect(failed.outputs).toMatchObject({
      'current-release': A,
      'previous-release': A,
      switched: 'true',
      'rolled-back': 'true',
    });
    expect(failed.log).toContain(
      `::error::after-switch command \`exit 4\` failed (exit 4); rolled back: current points to releases/${A} again`,
    );
    expect(failed.log).toContain('  │ reloading');
    expect(failed.summary).toContain('Release switch: FAILED');
    expect(readlinkSync(join(root, 'current'))).toBe(`releases/${A}`);
    const report = JSON.parse(readFileSync(failed.outputs.report!, 'utf8')) as {
      rolledBack: boolean;
      results: { name: string }[];
    };
    expect(report.rolledBack).toBe(true);
    expect(report.results.map((r) => r.name)).toEqual([
      'release',
      'switch current',
      'after-switch: echo reloading',
      'after-switch: exit 4',
      'rollback on failure',
    ]);
  });

  it('fails on bad input without changing anything', async () => {
    const root = join(base, 'bad');
    await makeReleases(root, [A]);
    const before = treeListing(root);
    const run = await step({ 'releases-root': root, release: '../../etc', keep: '-1' });
    expect(run.exitCode).toBe(1);
    expect(run.log).toContain('Input "keep": "-1" is not a whole number from 0 to 1000');
    expect(treeListing(root)).toEqual(before);
  });

  it.each(['local', 'ssh'])(
    'keep 0 prunes every release but the current, the previous good one and those newer than current (%s)',
    async (kind) => {
      const root = join(base, `keep zero ${kind}`);
      const names = [1, 2, 3, 4, 5, 6].map(releaseName);
      await makeReleases(root, names);
      const target: Record<string, string> =
        kind === 'ssh' ? { target: sshd.address, 'ssh-key': sshd.privateKey, 'known-hosts': sshd.knownHosts } : {};
      expect((await step({ ...target, 'releases-root': root, release: names[2]! })).exitCode).toBe(0);
      // Switching to an older release than the newest: keep 0 spares current and previous, and never removes the
      // releases newer than current (unpacked, not yet switched to: the reported bug); the older one goes.
      const run = await step({ ...target, 'releases-root': root, release: names[1]!, keep: '0' });
      expect(run.exitCode).toBe(0);
      expect(run.outputs).toMatchObject({
        'current-release': names[1],
        'previous-release': names[2],
        switched: 'true',
      });
      expect(readdirSync(join(root, 'releases')).sort()).toEqual(names.slice(1));
      expect(readlinkSync(join(root, 'current'))).toBe(`releases/${names[1]}`);
    },
  );

  it('switches over ssh with the key masked and removed afterwards', async () => {
    const root = join(base, 'ssh app');
    await makeReleases(root, [A, B]);
    const inputs = {
      'releases-root': root,
      target: sshd.address,
      'ssh-key': sshd.privateKey,
      'known-hosts': sshd.knownHosts,
    };
    await step({ ...inputs, release: A });
    const run = await step({ ...inputs, release: B, 'before-switch': 'test -f marker' });
    expect(run.exitCode).toBe(0);
    expect(run.outputs).toMatchObject({ 'current-release': B, 'previous-release': A, switched: 'true' });
    expect(readlinkSync(join(root, 'current'))).toBe(`releases/${B}`);
    expect(run.log).toContain(`::add-mask::`);
    const keyLines = sshd.privateKey.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));
    const written = [run.summary, readFileSync(run.outputs.report!, 'utf8'), ...Object.values(run.outputs)].join('\n');
    for (const line of keyLines) expect(written).not.toContain(line);
    // Only the report is left in RUNNER_TEMP: the private key directory is gone.
    expect(readdirSync(run.runnerTemp)).toEqual(['deploy-gates']);

    const wrongHost = await step({ ...inputs, 'known-hosts': sshd.wrongKnownHosts, release: A });
    expect(wrongHost.exitCode).toBe(1);
    expect(wrongHost.log).toContain(`the known-hosts entry for [127.0.0.1]:${sshd.port} does not match`);
    expect(readlinkSync(join(root, 'current'))).toBe(`releases/${B}`);
    // The failed step's report is evidence (it says why); the key directory is gone here too.
    expect(readdirSync(wrongHost.runnerTemp)).toEqual(['deploy-gates']);
    const report = JSON.parse(readFileSync(wrongHost.outputs.report!, 'utf8')) as { ok: boolean; results: unknown[] };
    expect(report).toMatchObject({ ok: false, results: [{ name: 'step', status: 'fail' }] });
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'removes the key and stops the ssh master when the job is cancelled (%s) during a hook',
    async (signal) => {
      const root = join(base, `cancel ${signal}`);
      await makeReleases(root, [A, B]);
      const started = join(root, 'hook-started');
      let keyDirWhileRunning: string[] = [];
      const run = await runBundle(
        'release-switch',
        {
          'releases-root': root,
          release: B,
          'after-switch': `touch ${JSON.stringify(started)}; sleep 60`,
          target: sshd.address,
          'ssh-key': sshd.privateKey,
          'known-hosts': sshd.knownHosts,
        },
        {},
        async (child, runnerTemp) => {
          for (let i = 0; i < 600 && !existsSync(started); i++) await new Promise((resolve) => setTimeout(resolve, 50));
          keyDirWhileRunning = readdirSync(runnerTemp).filter((name) => name.startsWith('dg-ssh-'));
          child.kill(signal);
        },
      );
      runs.push(run);
      expect(existsSync(started)).toBe(true);
      expect(keyDirWhileRunning).toHaveLength(1);
      expect(run.exitCode).toBe(signal === 'SIGTERM' ? 143 : 130);
      expect(readdirSync(run.runnerTemp).filter((name) => name.startsWith('dg-ssh-'))).toEqual([]);
      // No ssh process (the ControlMaster above all) still refers to the step's temp dir.
      const left = execFileSync('ps', ['-eo', 'args'])
        .toString()
        .split('\n')
        .filter((line) => line.includes(run.runnerTemp) && line.startsWith('ssh'));
      expect(left).toEqual([]);
    },
  );

  it.each(['SIGINT', 'SIGTERM'] as const)(
    'a job cancelled (%s) during an after-switch hook over ssh stops the remote hook, rolls back, then releases the lock and removes the key',
    async (signal) => {
      const root = join(base, `cancel rollback ${signal}`);
      await makeReleases(root, [A, B]);
      const ssh = { target: sshd.address, 'ssh-key': sshd.privateKey, 'known-hosts': sshd.knownHosts };
      expect((await step({ ...ssh, 'releases-root': root, release: A })).exitCode).toBe(0);
      const [started, pidFile, finished] = ['hook-started', 'hook.pid', 'hook-finished'].map((name) =>
        join(root, name),
      ) as [string, string, string];
      const run = await runBundle(
        'release-switch',
        {
          ...ssh,
          'releases-root': root,
          release: B,
          'after-switch': `echo $$ > ${shellQuote(pidFile)}; touch ${shellQuote(started)}; sleep 60; touch ${shellQuote(finished)}`,
        },
        {},
        async (child) => {
          for (let i = 0; i < 600 && !existsSync(started); i++) await new Promise((resolve) => setTimeout(resolve, 50));
          child.kill(signal);
        },
      );
      runs.push(run);
      expect(existsSync(started)).toBe(true);
      expect(run.exitCode).toBe(signal === 'SIGTERM' ? 143 : 130);
      // Rolled back: current is where it was before the step, and the outputs and report say so.
      expect(readlinkSync(join(root, 'current'))).toBe(`releases/${A}`);
      expect(run.outputs).toMatchObject({
        'current-release': A,
        'previous-release': A,
        switched: 'true',
        'rolled-back': 'true',
      });
      expect(run.log).toContain(`the job was cancelled (${signal}) during after-switch command`);
      expect(run.log).toContain(`rolled back: current points to releases/${A} again`);
      // A cancelled job proved nothing against B: recorded rolled back, not bad (a later rollback may land on it).
      const history = join(root, '.deploy-gates', 'history.jsonl');
      expect(parseHistory(readFileSync(history, 'utf8'), history).map((e) => `${e.outcome} ${e.release}`)).toEqual([
        `live ${A}`,
        `live ${B}`,
        `rolled-back ${B}`,
        `live ${A}`,
      ]);
      // The hook on the host was stopped, not left running: its shell is gone (or a zombie about to be reaped).
      const hookPid = readFileSync(pidFile, 'utf8').trim();
      const alive = () =>
        execFileSync('ps', ['-eo', 'pid=,stat='])
          .toString()
          .split('\n')
          .some((line) => line.trim().split(/\s+/)[0] === hookPid && !line.trim().split(/\s+/)[1]?.startsWith('Z'));
      for (let i = 0; i < 100 && alive(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(alive()).toBe(false);
      expect(existsSync(finished)).toBe(false);
      // Then cleaned up: the lock, the key directory, the master connection.
      expect(readdirSync(root).filter((name) => name.startsWith('.deploy-lock'))).toEqual(['.deploy-lock.flock']);
      expect(readdirSync(run.runnerTemp).filter((name) => name.startsWith('dg-ssh-'))).toEqual([]);
      const left = execFileSync('ps', ['-eo', 'args'])
        .toString()
        .split('\n')
        .filter((line) => line.includes(run.runnerTemp) && line.startsWith('ssh'));
      expect(left).toEqual([]);
    },
  );

  it('a runner killed outright (SIGKILL) while it holds the lock over ssh leaves no lock behind: the host drops the flock when the connection goes', async () => {
    const root = join(base, 'killed holder');
    await makeReleases(root, [A, B]);
    const ssh = { target: sshd.address, 'ssh-key': sshd.privateKey, 'known-hosts': sshd.knownHosts };
    const started = join(root, 'hook-started');
    const run = await runBundle(
      'release-switch',
      { ...ssh, 'releases-root': root, release: A, 'before-switch': `touch ${shellQuote(started)}; sleep 2` },
      {},
      async (child) => {
        for (let i = 0; i < 600 && !existsSync(started); i++) await new Promise((resolve) => setTimeout(resolve, 50));
        child.kill('SIGKILL');
      },
    );
    runs.push(run);
    expect(run.exitCode).not.toBe(0);
    // Nothing of the dead run can clean up; the lock holder on the host sees its stdin end and removes the lock.
    for (let i = 0; i < 100 && existsSync(join(root, '.deploy-lock')); i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(join(root, '.deploy-lock'))).toBe(false);
    const next = await step({ ...ssh, 'releases-root': root, release: B, 'lock-timeout': '0' });
    expect(next.exitCode).toBe(0);
    expect(readlinkSync(join(root, 'current'))).toBe(`releases/${B}`);
    // The killed run's master connection is still up (nothing could stop it): stop it here.
    spawnSync('pkill', ['-f', run.runnerTemp]);
  });

  it('waits for the deploy lock up to lock-timeout and names who holds it', async () => {
    const root = join(base, 'locked');
    await makeReleases(root, [A, B]);
    await mkdir(join(root, '.deploy-lock'));
    const since = Math.floor(Date.now() / 1000);
    for (const [file, text] of Object.entries({
      owner: 'run acme/app#12/1 (Deploy / switch), host runner-7, pid 321',
      token: 'other',
      since,
      heartbeat: since,
    })) {
      await writeFile(join(root, '.deploy-lock', file), `${text}\n`);
    }
    const run = await step({ 'releases-root': root, release: B, 'lock-timeout': '1s' });
    expect(run.exitCode).toBe(1);
    expect(run.log).toContain(
      `Waiting for the deploy lock ${root}/.deploy-lock on local, held by run acme/app#12/1 (Deploy / switch), host runner-7, pid 321 (since ${new Date(since * 1000).toISOString().replace(/\.000Z$/, 'Z')}`,
    );
    expect(run.log).toContain('::error::Another deploy holds the lock');
    expect(run.log).toContain('(lock-timeout 1s); nothing was changed');
    expect(existsSync(join(root, 'current'))).toBe(false);
  });

  it('over ssh: deploy → rollback → mark-bad (the release rolled back from) → deploy → rollback skips the bad one; history names the run and SHA', async () => {
    const root = join(base, 'history app');
    await makeReleases(root, [A, B, C]);
    const ssh = {
      target: sshd.address,
      'ssh-key': sshd.privateKey,
      'known-hosts': sshd.knownHosts,
      'releases-root': root,
    };
    const shaOf = (name: string) => `${name.slice(-8)}${'1'.repeat(32)}`;
    expect((await step({ ...ssh, release: A, sha: shaOf(A) })).exitCode).toBe(0);
    expect((await step({ ...ssh, release: B, sha: shaOf(B) })).exitCode).toBe(0);
    expect((await step({ ...ssh, mode: 'rollback' })).outputs).toMatchObject({ 'current-release': A });
    const marked = await step({ ...ssh, mode: 'mark-bad' });
    expect(marked.exitCode).toBe(0);
    expect(marked.summary).toContain('Release marked bad');
    expect(marked.log).toContain(`releases/${B} is marked bad`);
    expect((await step({ ...ssh, release: C })).exitCode).toBe(0);
    const back = await step({ ...ssh, mode: 'rollback' });
    expect(back.outputs).toMatchObject({ 'current-release': A, 'previous-release': C, switched: 'true' });
    const report = JSON.parse(readFileSync(back.outputs.report!, 'utf8')) as {
      details: { history: { release: string; outcome: string }[]; roundTrips: number };
    };
    expect(report.details.history.map((e) => `${e.outcome} ${e.release}`)).toEqual([`rolled-back ${C}`, `live ${A}`]);
    expect(report.details.roundTrips).toBe(2);
    const lines = readFileSync(join(root, '.deploy-gates/history.jsonl'), 'utf8').trim().split('\n');
    expect(
      lines.map((line) => JSON.parse(line) as { release: string; outcome: string; sha: string | null }),
    ).toMatchObject([
      { release: A, outcome: 'live', sha: shaOf(A) },
      { release: B, outcome: 'live', sha: shaOf(B) },
      { release: B, outcome: 'rolled-back', sha: shaOf(B) },
      { release: A, outcome: 'live', sha: shaOf(A) },
      { release: B, outcome: 'bad', sha: shaOf(B) },
      { release: C, outcome: 'live', sha: null },
      { release: C, outcome: 'rolled-back', sha: null },
      { release: A, outcome: 'live', sha: shaOf(A) },
    ]);
  });

  it("refuses a sha that is not the release name's commit, changing nothing", async () => {
    const root = join(base, 'sha mismatch');
    await makeReleases(root, [A]);
    const run = await step({ 'releases-root': root, release: A, sha: 'f'.repeat(40) });
    expect(run.exitCode).toBe(1);
    expect(run.log).toContain(`is not the commit of release ${A}`);
    expect(existsSync(join(root, 'current'))).toBe(false);
  });

  it('unlock refuses a live holder (fresh heartbeat, no flock to tell), breaks it with force, and names the holder', async () => {
    const root = join(base, 'unlock');
    await makeReleases(root, [A]);
    await mkdir(join(root, '.deploy-lock'));
    const since = Math.floor(Date.now() / 1000);
    for (const [file, text] of Object.entries({
      owner: 'run acme/app#13/1, host runner-8, pid 99',
      token: 't',
      since,
      heartbeat: since,
    }))
      await writeFile(join(root, '.deploy-lock', file), `${text}\n`);
    const refused = await step({ 'releases-root': root, mode: 'unlock' });
    expect(refused.exitCode).toBe(1);
    expect(refused.log).toContain('held by run acme/app#13/1, host runner-8, pid 99');
    expect(refused.log).toContain('pass force: true');
    expect(existsSync(join(root, '.deploy-lock'))).toBe(true);
    const forced = await step({ 'releases-root': root, mode: 'unlock', force: 'true' });
    expect(forced.exitCode).toBe(0);
    expect(forced.log).toContain(
      `broke ${root}/.deploy-lock on local, held by run acme/app#13/1, host runner-8, pid 99`,
    );
    expect(existsSync(join(root, '.deploy-lock'))).toBe(false);
  });
});
