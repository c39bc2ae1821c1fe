import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '#core/errors.js';
import type { Target } from '#core/hosts/target.js';
import { parseHistory, type HistoryEntry } from '#core/release/history.js';
import { markBad } from '#core/release/mark.js';
import { switchRelease, type SwitchConfig } from '#core/release/switch.js';
import { makeReleases, releaseName, treeListing } from '../support/release-tree.js';
import { localWithoutFlockKind, targetKinds } from '../support/targets.js';

/**
 * The one-script switch (core/release/fast.ts): a plain switch with `sha` takes the lock, swaps, appends history and
 * releases the lock in one script when history.accepted vouches that history.jsonl is what a runner accepted; every
 * other case falls back to the two-step switch, which reads and parses history before it swaps.
 */
const [R1, R2, R3, R4] = [1, 2, 3, 4].map(releaseName) as [string, string, string, string];
const RUN = 'run acme/app#52/1 (Deploy / deploy), host runner-1, pid 5';
const shaOf = (name: string) => `${name.slice(-8)}${'0'.repeat(32)}`;

/**
 * Counts round trips independently of the code under test: every script started on the target, plus every script
 * written to a lock holder's input and the end line that releases a holder still waiting (`@@dg-do-…`, `@@dg-last-…`,
 * `@@dg-end-…` lines).
 */
function countedTarget(inner: Target): { target: Target; count: () => number; reset: () => void } {
  let count = 0;
  const target: Target = {
    description: inner.description,
    run: (script, options) => {
      count++;
      const input = options?.stdin;
      if (input && typeof input === 'object')
        input.on('data', (chunk: Buffer | string) => {
          count += (String(chunk).match(/^@@dg-(?:do|last|end)-/gm) ?? []).length;
        });
      return inner.run(script, options);
    },
    close: () => inner.close(),
  };
  return { target, count: () => count, reset: () => (count = 0) };
}

describe.each([...targetKinds, localWithoutFlockKind()])('one-script switch on the $name target', (kind) => {
  let counted: ReturnType<typeof countedTarget>;
  let base: string;
  let root: string;
  let n = 0;

  beforeAll(async () => {
    counted = countedTarget(await kind.setup());
    base = await mkdtemp(join(tmpdir(), `dg-one-script-${process.pid}-`));
  });
  afterAll(async () => {
    await kind.teardown();
    await rm(base, { recursive: true, force: true });
  });
  beforeEach(async () => {
    root = join(base, `app it's ${++n}`);
    await makeReleases(root, [R1, R2, R3]);
  });

  const config = (release: string, overrides: Partial<SwitchConfig> = {}): SwitchConfig => ({
    releasesRoot: root,
    release,
    mode: 'switch',
    keep: 5,
    beforeSwitch: [],
    afterSwitch: [],
    rollbackOnFailure: true,
    lockOwner: RUN,
    sha: shaOf(release),
    ...overrides,
  });
  /** A switch, with the round trips counted by the test next to the ones the outcome reports. */
  const deploy = async (release: string, overrides: Partial<SwitchConfig> = {}) => {
    counted.reset();
    const outcome = await switchRelease(counted.target, config(release, overrides));
    return { ...outcome, counted: counted.count() };
  };
  const current = () => readlinkSync(join(root, 'current'));
  const historyFile = () => join(root, '.deploy-gates', 'history.jsonl');
  const markerFile = () => join(root, '.deploy-gates', 'history.accepted');
  const historyText = () => readFileSync(historyFile(), 'utf8');
  const history = (): HistoryEntry[] => parseHistory(historyText(), 'history.jsonl');
  const nextFile = () => join(root, '.deploy-gates', 'history.next');
  const tail = (release: string) => `releases/${release}\n"from":${JSON.stringify(release)}\n`;
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  const digest = (text: string, release: string) => `${sha256(text)} ${sha256(tail(release))}\n`;
  /** The marker as a runner writes it, over the history as it is now (what an attacker with write access can do). */
  const forgeMarker = async (release: string) => {
    await writeFile(nextFile(), tail(release));
    await writeFile(markerFile(), digest(historyText(), release));
  };
  const lockGone = () => expect(existsSync(join(root, '.deploy-lock'))).toBe(false);

  it('a plain switch after one that read history is one round trip; the fallback is two; both counted', async () => {
    const first = await deploy(R1);
    expect(first).toMatchObject({ ok: true, switched: true, currentRelease: R1, roundTrips: 2, counted: 2 });
    const second = await deploy(R2);
    expect(second).toMatchObject({ ok: true, switched: true, currentRelease: R2, previousRelease: R1 });
    expect(second).toMatchObject({ roundTrips: 1, counted: 1, pruned: [] });
    expect(current()).toBe(`releases/${R2}`);
    lockGone();
    // The line is the one the two-step switch would write: from what current pointed to, the sha given, the run.
    expect(history().map(({ release, outcome, from, sha, run }) => [release, outcome, from, sha, run])).toEqual([
      [R1, 'live', null, shaOf(R1), RUN],
      [R2, 'live', R1, shaOf(R2), RUN],
    ]);
    expect(second.history).toEqual([history().at(-1)]);
    expect(second.results.map((r) => [r.name, r.status])).toEqual([
      ['release', 'pass'],
      ['switch current', 'pass'],
      ['prune', 'pass'],
    ]);
    // The marker vouches for exactly the bytes on the host now, and names current.
    expect(readFileSync(markerFile(), 'utf8')).toBe(digest(historyText(), R2));
    expect(readFileSync(nextFile(), 'utf8')).toBe(tail(R2));
    expect(await deploy(R3)).toMatchObject({ ok: true, currentRelease: R3, roundTrips: 1, counted: 1 });
    expect(history().at(-1)).toMatchObject({ release: R3, from: R2, outcome: 'live' });
  });

  it('never writes the marker files through a symlink placed in .deploy-gates', async () => {
    await deploy(R1);
    const victim = join(base, `victim-${n}.txt`);
    await writeFile(victim, 'keep me\n');
    await unlink(nextFile());
    await symlink(victim, nextFile());
    const switched = await deploy(R2);
    expect(switched).toMatchObject({ switched: true, currentRelease: R2 });
    expect(readFileSync(victim, 'utf8')).toBe('keep me\n');
    await unlink(nextFile());
    await writeFile(nextFile(), tail(R2));
    await unlink(markerFile());
    await symlink(victim, markerFile());
    expect(await deploy(R3)).toMatchObject({ switched: true, currentRelease: R3 });
    expect(readFileSync(victim, 'utf8')).toBe('keep me\n');
    lockGone();
  });

  it('takes two round trips when there is no marker, when sha is not given, or with a hook', async () => {
    await deploy(R1);
    await unlink(markerFile());
    expect(await deploy(R2)).toMatchObject({ ok: true, currentRelease: R2, roundTrips: 2, counted: 2 });
    expect(existsSync(markerFile())).toBe(true); // written again by the two-step switch
    expect(await deploy(R3, { sha: null })).toMatchObject({ ok: true, roundTrips: 2, counted: 2 });
    expect(history().at(-1)).toMatchObject({ release: R3, sha: null, from: R2 });
    const hooked = await deploy(R1, { afterSwitch: ['true'] });
    expect(hooked).toMatchObject({ ok: true, currentRelease: R1 });
    expect(hooked.roundTrips).toBe(hooked.counted);
    expect(hooked.roundTrips).toBeGreaterThan(2);
  });

  it('falls back when history was edited by hand (valid or not), or the marker was; a bad line still stops it', async () => {
    await deploy(R1);
    await deploy(R2);
    // A valid entry added by hand: read and honoured by the two-step switch (R1 marked bad).
    const bad = {
      v: 1,
      at: new Date().toISOString(),
      release: R1,
      sha: null,
      run: 'by hand',
      outcome: 'bad',
      from: R2,
    };
    await appendFile(historyFile(), `${JSON.stringify(bad)}\n`);
    const afterEdit = await deploy(R3);
    expect(afterEdit).toMatchObject({ ok: true, currentRelease: R3, roundTrips: 2, counted: 2 });
    // The marker edited (another link and from): falls back too.
    await writeFile(nextFile(), tail(R2));
    expect(await deploy(R2)).toMatchObject({ ok: true, roundTrips: 2, counted: 2 });
    // A line that does not parse: the digest no longer matches, the runner reads it and stops, nothing changed.
    await appendFile(historyFile(), '{"v":1,"release":"x"}\n');
    const before = treeListing(root);
    const error = (await deploy(R3).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toContain('line 6 is not a deploy-gates history entry');
    expect(treeListing(root)).toEqual(before);
    expect(current()).toBe(`releases/${R2}`);
    lockGone();
  });

  it('a marker forged over a broken history: the switch happens, the step fails naming the line, the next stops', async () => {
    await deploy(R1);
    await deploy(R2);
    await appendFile(historyFile(), 'not json\n');
    await forgeMarker(R2);
    const forged = await deploy(R3);
    // What the threat model says: the marker is no signature; the runner's parse after the swap catches it.
    expect(forged).toMatchObject({ ok: false, switched: true, currentRelease: R3 });
    expect(forged.failure).toContain('line 3 is not JSON');
    expect(forged.failure).toContain('history.accepted vouched for history');
    expect(forged.roundTrips).toBe(forged.counted);
    expect(existsSync(markerFile())).toBe(false);
    const before = treeListing(root);
    await expect(deploy(R1)).rejects.toThrow('line 3 is not JSON');
    expect(treeListing(root)).toEqual(before);
    lockGone();
  });

  it('falls back when current was moved since the marker was written, recording where it really came from', async () => {
    await deploy(R1);
    await deploy(R2);
    // Someone repointed current by hand (no lock, no history).
    await unlink(join(root, 'current'));
    await symlink(`releases/${R1}`, join(root, 'current'));
    const raced = await deploy(R3);
    expect(raced).toMatchObject({ ok: true, currentRelease: R3, previousRelease: R1, roundTrips: 2, counted: 2 });
    expect(history().at(-1)).toMatchObject({ release: R3, from: R1 });
    // And to the release current already points to: nothing to do, nothing appended.
    const lines = history().length;
    expect(await deploy(R3)).toMatchObject({ ok: true, switched: false, roundTrips: 2 });
    expect(history()).toHaveLength(lines);
  });

  it('names where current came from by where it resolves, without its link text, when the host goes ahead', async () => {
    await deploy(R1);
    await deploy(R2);
    // The same release, linked by an absolute path: the marker still vouches (current resolves to it).
    await unlink(join(root, 'current'));
    await symlink(join(root, 'releases', R2), join(root, 'current'));
    const third = await deploy(R3);
    expect(third).toMatchObject({ ok: true, currentRelease: R3, previousRelease: R2, roundTrips: 1, counted: 1 });
    expect(third.results.find((r) => r.name === 'switch current')?.detail).toContain(
      `releases/${R2} → releases/${R3} (atomic rename, in the lock's script`,
    );
    expect(history().at(-1)).toMatchObject({ release: R3, from: R2 });
    expect(current()).toBe(`releases/${R3}`);
  });

  it('falls back after mark-bad (history changed), and a missing release changes nothing', async () => {
    await makeReleases(root, [R4]);
    await deploy(R1);
    await deploy(R2);
    // R4 is newer than current: kept by pruning whatever its mark, so only the read counts here.
    await markBad(counted.target, { releasesRoot: root, release: R4, lockOwner: RUN });
    expect(await deploy(R3)).toMatchObject({ ok: true, roundTrips: 2, counted: 2, pruned: [] });
    await rm(join(root, 'releases', R4), { recursive: true });
    const before = treeListing(root);
    await expect(deploy(R4)).rejects.toThrow(`${R4} does not exist`);
    expect(treeListing(root)).toEqual(before);
    lockGone();
  });

  it('prunes after a one-script switch in one more round trip, under the lock, when something is to be removed', async () => {
    await makeReleases(root, [R4]);
    await deploy(R1);
    await deploy(R2);
    await deploy(R3);
    const fourth = await deploy(R4, { keep: 1 });
    // keep 1: R4 (current) and R3 (previous good) stay; R1 and R2 go.
    expect(fourth).toMatchObject({ ok: true, currentRelease: R4, pruned: [R1, R2], roundTrips: 2, counted: 2 });
    // The switch was the one script (the second round trip is the pruning's own lock).
    expect(fourth.results.find((r) => r.name === 'switch current')?.detail).toContain('history.accepted vouched');
    expect(existsSync(join(root, 'releases', R1))).toBe(false);
    expect(existsSync(join(root, 'releases', R3))).toBe(true);
    lockGone();
  });

  it('shared links ride the one script when every entry links; a missing entry falls back and switches nothing', async () => {
    await mkdir(join(root, 'shared', 'storage'), { recursive: true });
    await writeFile(join(root, 'shared', '.env'), 'APP_KEY=base64:shared\n');
    const entries = [
      { path: '.env', directory: false },
      { path: 'storage', directory: true },
    ];
    const shared = { entries, replace: false };
    await deploy(R1, { shared });
    const second = await deploy(R2, { shared });
    expect(second).toMatchObject({ ok: true, currentRelease: R2, roundTrips: 1, counted: 1 });
    expect(readlinkSync(join(root, 'releases', R2, '.env'))).toBe('../../shared/.env');
    expect(readFileSync(join(root, 'current', '.env'), 'utf8')).toBe('APP_KEY=base64:shared\n');
    expect(second.results.filter((r) => r.name.startsWith('shared')).map((r) => [r.name, r.status])).toEqual([
      ['shared: .env', 'pass'],
      ['shared: storage/', 'pass'],
    ]);
    const missing = { entries: [...entries, { path: 'config.php', directory: false }], replace: false };
    const refused = await deploy(R3, { shared: missing });
    expect(refused).toMatchObject({ ok: false, switched: false, roundTrips: 2, counted: 2 });
    expect(refused.failure).toContain('config.php');
    expect(current()).toBe(`releases/${R2}`);
    lockGone();
  });

  it('two plain switches at once are serialized by the lock; history stays whole and vouched for', async () => {
    await deploy(R1);
    const [a, b] = await Promise.all([
      switchRelease(counted.target, config(R2)),
      switchRelease(counted.target, config(R3)),
    ]);
    expect([a.ok, b.ok]).toEqual([true, true]);
    const entries = history();
    expect(entries).toHaveLength(3);
    const [second, third] = entries.slice(1);
    expect(third!.from).toBe(second!.release); // the later one started from what the first left
    expect(current()).toBe(`releases/${third!.release}`);
    expect(readFileSync(markerFile(), 'utf8')).toBe(digest(historyText(), third!.release));
    lockGone();
  });
});
