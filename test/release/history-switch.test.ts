import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '#core/errors.js';
import type { Target } from '#core/hosts/target.js';
import { parseHistory, type HistoryEntry } from '#core/release/history.js';
import { acquireLock, breakLock } from '#core/release/lock.js';
import { markBad } from '#core/release/mark.js';
import { switchRelease, type SwitchConfig } from '#core/release/switch.js';
import { makeReleases, releaseName, treeListing } from '../support/release-tree.js';
import { localWithoutFlockKind, targetKinds } from '../support/targets.js';

const [R1, R2, R3, R4] = [1, 2, 3, 4].map(releaseName) as [string, string, string, string];
const RUN = 'run acme/app#41/1 (Deploy / deploy), host runner-3, pid 77';
const SHA3 = `${R3.slice(-8)}${'0'.repeat(32)}`;

describe.each([...targetKinds, localWithoutFlockKind()])('release history on the $name target', (kind) => {
  const flock = kind.name !== 'local without flock';
  let target: Target;
  let base: string;
  let root: string;
  let n = 0;

  beforeAll(async () => {
    target = await kind.setup();
    base = await mkdtemp(join(tmpdir(), 'dg-history-'));
  });
  afterAll(async () => {
    await kind.teardown();
    await rm(base, { recursive: true, force: true });
  });
  beforeEach(async () => {
    root = join(base, `app it's ${++n}`);
    await makeReleases(root, [R1, R2, R3]);
  });

  const config = (overrides: Partial<SwitchConfig> = {}): SwitchConfig => ({
    releasesRoot: root,
    mode: 'switch',
    keep: 5,
    beforeSwitch: [],
    afterSwitch: [],
    rollbackOnFailure: true,
    lockOwner: RUN,
    ...overrides,
  });
  const deploy = (release: string, overrides: Partial<SwitchConfig> = {}) =>
    switchRelease(target, config({ release, ...overrides }));
  const rollback = (overrides: Partial<SwitchConfig> = {}) =>
    switchRelease(target, config({ mode: 'rollback', ...overrides }));
  const current = () => readlinkSync(join(root, 'current'));
  const historyFile = () => join(root, '.deploy-gates', 'history.jsonl');
  const history = (): HistoryEntry[] => parseHistory(readFileSync(historyFile(), 'utf8'), 'history.jsonl');
  const releases = () =>
    treeListing(root)
      .filter((line) => /^releases\/[^/]+\/$/.test(line))
      .map((line) => line.slice('releases/'.length, -1));

  it('deploy r1 → r2 → mark r2 bad → deploy r3 → rollback lands on r1, not r2', async () => {
    await deploy(R1);
    await deploy(R2);
    const marked = await markBad(target, { releasesRoot: root, release: R2, lockOwner: RUN });
    expect(marked).toMatchObject({ ok: true, release: R2, currentRelease: R2, roundTrips: 2 });
    await deploy(R3, { sha: SHA3 });
    const back = await rollback();
    expect(back).toMatchObject({ ok: true, switched: true, currentRelease: R1, previousRelease: R3 });
    expect(current()).toBe(`releases/${R1}`);
    // What the host holds: every switch, the mark and the rollback, with the run label, in order.
    expect(history().map(({ release, outcome, from, run }) => [release, outcome, from, run])).toEqual([
      [R1, 'live', null, RUN],
      [R2, 'live', R1, RUN],
      [R2, 'bad', R2, RUN],
      [R3, 'live', R2, RUN],
      [R3, 'rolled-back', R3, RUN],
      [R1, 'live', R3, RUN],
    ]);
    expect(
      history()
        .filter((e) => e.release === R3)
        .map((e) => e.sha),
    ).toEqual([SHA3, SHA3]);
    expect(back.history.map((e) => `${e.outcome} ${e.release}`)).toEqual([`rolled-back ${R3}`, `live ${R1}`]);
  });

  it('a failed after-switch hook rolls back and records the release bad: a later rollback skips it', async () => {
    await deploy(R1);
    const failed = await deploy(R2, { afterSwitch: ['exit 3'] });
    expect(failed).toMatchObject({ ok: false, rolledBack: true, currentRelease: R1 });
    expect(failed.history.map((e) => `${e.outcome} ${e.release}`)).toEqual([
      `live ${R2}`,
      `rolled-back ${R2}`,
      `bad ${R2}`,
      `live ${R1}`,
    ]);
    await deploy(R3);
    expect(await rollback()).toMatchObject({ ok: true, currentRelease: R1 });
  });

  it('rolls back by history, not by name: a release never live (unpacked later, older name) is passed over', async () => {
    await deploy(R1);
    await deploy(R3);
    expect(await rollback()).toMatchObject({ currentRelease: R1 }); // R2 sits between them by name, never live
  });

  it('mark-bad without release marks the release most recently rolled back from', async () => {
    await deploy(R1);
    await deploy(R2);
    await rollback();
    const marked = await markBad(target, { releasesRoot: root, lockOwner: RUN });
    expect(marked).toMatchObject({ release: R2, currentRelease: R1 });
    expect(history().at(-1)).toMatchObject({ release: R2, outcome: 'bad', from: R1 });
    // And a roll "back" from R1 now has nowhere to go: R2 is bad, and nothing else was live.
    await expect(rollback()).rejects.toThrow(
      `no release that was live before ${R1} is left that is not marked bad (passed over: ${R2} (marked bad))`,
    );
  });

  it('mark-bad without release and without a rollback in history asks for the release, changing nothing', async () => {
    await deploy(R1);
    const before = readFileSync(historyFile(), 'utf8');
    await expect(markBad(target, { releasesRoot: root })).rejects.toThrow('records no rollback');
    expect(readFileSync(historyFile(), 'utf8')).toBe(before);
  });

  it('pruning keeps current, the previous good release and a release newer than current, even with keep: 0', async () => {
    await makeReleases(root, [R4]);
    await deploy(R1);
    // R3 and R4 are unpacked, not yet switched to: newer than current, so never pruned.
    const second = await deploy(R2, { keep: 0 });
    expect(second).toMatchObject({ ok: true, pruned: [] });
    expect(releases()).toEqual([R1, R2, R3, R4]);
    await markBad(target, { releasesRoot: root, release: R2 });
    // R2 is bad: it does not count and goes; R1 is the previous good one and stays.
    const third = await deploy(R3, { keep: 0 });
    expect(third.pruned).toEqual([R2]);
    expect(releases()).toEqual([R1, R3, R4]);
  });

  it('keep counts good releases only', async () => {
    await makeReleases(root, [R4]);
    await deploy(R1);
    await deploy(R2);
    await deploy(R3);
    await markBad(target, { releasesRoot: root, release: R3 });
    await rollback(); // back to R2; R3 rolled back and bad
    await deploy(R4, { keep: 1 });
    // keep 1 keeps R4 (current); R2 is the previous good; R3 is bad, R1 beyond keep.
    expect(releases()).toEqual([R2, R4]);
  });

  it('refuses a history that is not deploy-gates history, naming file and line, and changes nothing', async () => {
    await deploy(R1);
    await writeFile(historyFile(), `${readFileSync(historyFile(), 'utf8')}{"v":1,"release":"${R2}"}\n`);
    const before = treeListing(root);
    const error = (await deploy(R2).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toContain('.deploy-gates/history.jsonl on');
    expect(error.message).toContain('line 2 is not a deploy-gates history entry');
    expect(treeListing(root)).toEqual(before);
    expect(existsSync(join(root, '.deploy-lock'))).toBe(false);
  });

  it('a history whose last line lost its newline (a hand edit) gets the next entry on a line of its own', async () => {
    await deploy(R1);
    await writeFile(historyFile(), readFileSync(historyFile(), 'utf8').trimEnd());
    await deploy(R2);
    await markBad(target, { releasesRoot: root, release: R2, lockOwner: RUN });
    expect(history().map((entry) => [entry.release, entry.outcome])).toEqual([
      [R1, 'live'],
      [R2, 'live'],
      [R2, 'bad'],
    ]);
    expect(readFileSync(historyFile(), 'utf8')).toMatch(/\}\n\{"v":1[^\n]*"outcome":"live"[^\n]*\}\n\{/);
  });

  it('never writes history through a symlink planted in its place', async () => {
    await mkdir(join(root, 'elsewhere'));
    await symlink(join(root, 'elsewhere'), join(root, '.deploy-gates'));
    await expect(deploy(R1)).rejects.toThrow('is a symlink');
    expect(existsSync(join(root, 'current'))).toBe(false);
    expect(existsSync(join(root, 'elsewhere', 'history.jsonl'))).toBe(false);
  });

  describe('unlock', () => {
    const writeLock = async (fields: Record<string, string>) => {
      await mkdir(join(root, '.deploy-lock'));
      for (const [file, text] of Object.entries(fields))
        await writeFile(join(root, '.deploy-lock', file), text && `${text}\n`);
    };

    it('breaks a stale lock, naming its holder', async () => {
      await writeLock({ owner: 'run acme/app#9/1, host gone, pid 9', token: 'dead', since: '1000', heartbeat: '1000' });
      const outcome = await breakLock(target, root, { force: false });
      expect(outcome).toMatchObject({
        state: 'broke',
        alive: false,
        holder: { owner: 'run acme/app#9/1, host gone, pid 9' },
      });
      expect(existsSync(join(root, '.deploy-lock'))).toBe(false);
      expect(await deploy(R1, { lockTimeoutMs: 0 })).toMatchObject({ ok: true });
    });

    it('says so when there is no lock', async () => {
      expect(await breakLock(target, root, { force: false })).toEqual({ state: 'none' });
    });

    it('refuses while a live holder holds it, and with force breaks it: the holder changes nothing more', async () => {
      const held = await acquireLock(target, root, { timeoutMs: 0, owner: 'run acme/app#10/1, host live, pid 10' });
      const refused = await breakLock(target, root, { force: false });
      expect(refused).toMatchObject({
        state: 'refused',
        alive: true,
        judgedBy: flock ? 'flock' : 'heartbeat',
        holder: { owner: 'run acme/app#10/1, host live, pid 10' },
      });
      expect(existsSync(join(root, '.deploy-lock'))).toBe(true);
      const forced = await breakLock(target, root, { force: true });
      expect(forced).toMatchObject({ state: 'broke', alive: true, stopped: flock });
      expect(existsSync(join(root, '.deploy-lock'))).toBe(false);
      // The next deploy takes the lock at once (with flock: the holder's session was stopped, freeing the flock).
      expect(await deploy(R1, { lockTimeoutMs: 0 })).toMatchObject({ ok: true, currentRelease: R1 });
      // The broken holder's guard refuses any further change.
      if (!flock) {
        const late = await held.run(`${held.guard}\nln -sfn releases/${R2} current`).catch((e: unknown) => e);
        expect(late).toMatchObject({ exitCode: 6 });
        expect(current()).toBe(`releases/${R1}`);
      }
      await held.release();
      expect(current()).toBe(`releases/${R1}`);
    });

    (flock ? it : it.skip)(
      'with force never kills a process the lock only names: a pid that does not hold the lock file is left alone',
      async () => {
        const held = await acquireLock(target, root, { timeoutMs: 0, owner: 'run acme/app#11/1, host live, pid 11' });
        // An innocent process of the deploy user, named by a stale or forged pid file.
        const innocent = spawn('sleep', ['60'], { stdio: 'ignore' });
        try {
          await writeFile(join(root, '.deploy-lock', 'pid'), `${innocent.pid}\n`);
          const forced = await breakLock(target, root, { force: true });
          expect(forced).toMatchObject({ state: 'broke', alive: true, stopped: false, holderUnverified: true });
          // Alive, not a zombie waiting to be reaped.
          const state = readFileSync(`/proc/${innocent.pid}/stat`, 'utf8').split(') ')[1]?.[0];
          expect(state).toBe('S');
          expect(existsSync(join(root, '.deploy-lock'))).toBe(false);
        } finally {
          innocent.kill('SIGKILL');
          await held.release();
        }
      },
    );
  });
});
