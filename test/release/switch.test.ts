import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { readlinkSync, readFileSync, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '#core/errors.js';
import { MemoryLogger } from '#core/logger.js';
import { acquireLock } from '#core/release/lock.js';
import {
  DEFAULT_RELEASE_PATTERN,
  matchingReleases,
  swapCurrent,
  switchRelease,
  type SwitchConfig,
} from '#core/release/switch.js';
import { previousGood, releasesToPrune } from '#core/release/rules.js';
import { LocalTarget } from '#core/hosts/local.js';
import { shellQuote, type Target } from '#core/hosts/target.js';
import { node24 } from '../support/paths.js';
import { makeReleases, releaseName, startReader, treeListing } from '../support/release-tree.js';
import { localWithoutFlockKind, targetKinds } from '../support/targets.js';

const [A, B, C, D] = [1, 2, 3, 4].map(releaseName) as [string, string, string, string];

const config = (releasesRoot: string, overrides: Partial<SwitchConfig> = {}): SwitchConfig => ({
  releasesRoot,
  mode: 'switch',
  keep: 5,
  beforeSwitch: [],
  afterSwitch: [],
  rollbackOnFailure: true,
  ...overrides,
});

describe('pure rules', () => {
  it('prunes all but the newest `keep` by name, never current or previous (no history)', () => {
    const names = [1, 2, 3, 4, 5, 6, 7, 8].map(releaseName);
    const rules = { releases: names, history: [] };
    expect(releasesToPrune({ ...rules, keep: 3, current: names[7], protect: [names[6]] })).toEqual(names.slice(0, 5));
    // Current is an old release (after a rollback): the releases newer than it are never pruned, nor the one before.
    expect(releasesToPrune({ ...rules, keep: 1, current: names[1], protect: [names[0]] })).toEqual([]);
    expect(releasesToPrune({ ...rules, keep: 10, current: names[7] })).toEqual([]);
  });

  it('treats only names matching the release pattern as releases', () => {
    expect(matchingReleases([A, '.incoming-upload', 'upload-tmp', `${A}.partial`, '20250101_120000-ABCDEF12'])).toEqual(
      [A],
    );
    expect(matchingReleases(['v1', 'v2', 'vx', '.v3', 'w1'], 'v[0-9]*')).toEqual(['v1', 'v2']);
    expect(matchingReleases(['a.b', 'axb'], 'a.b')).toEqual(['a.b']);
    expect(matchingReleases(['r1', 'r2', 'rx'], 'r[!0-9]')).toEqual(['rx']);
    expect(matchingReleases(['v[0-9', 'v1'], 'v[0-9')).toEqual(['v[0-9']); // an unclosed "[" is literal, as in bash
    expect(DEFAULT_RELEASE_PATTERN).toContain('_');
  });

  it('without history, rolls back to the newest release older than current', () => {
    expect(previousGood([], [C, A, B, D], C)).toEqual({ release: B, by: 'name', skipped: [] });
    expect(previousGood([], [A, B], A).release).toBeUndefined();
  });
});

describe.each([...targetKinds, localWithoutFlockKind()])('release switch on the $name target', (kind) => {
  /** Where the host has flock, the lock also keeps its flock file in releases-root. */
  const flock = kind.name !== 'local without flock';
  let target: Target;
  let base: string;
  let root: string;
  let n = 0;

  beforeAll(async () => {
    target = await kind.setup();
    base = await mkdtemp(join(tmpdir(), 'dg-switch-'));
  });
  afterAll(async () => {
    await kind.teardown();
    await rm(base, { recursive: true, force: true });
  });
  beforeEach(async () => {
    // A root whose path needs quoting, so every script is exercised with a hostile path.
    root = join(base, `app $(touch PWNED) it's ${++n}`);
    await makeReleases(root, [A, B, C]);
  });

  const current = () => readlinkSync(join(root, 'current'));
  /** What the lock leaves in releases-root: nothing but, with flock, the empty file it locks (never removed: that would race). */
  const lockLeftovers = () => treeListing(root).filter((line) => line.startsWith('.deploy-lock'));

  it('makes current a relative symlink to the release on the first switch', async () => {
    const outcome = await switchRelease(target, config(root, { release: B }));
    expect(outcome).toMatchObject({
      ok: true,
      switched: true,
      rolledBack: false,
      currentRelease: B,
      previousRelease: undefined,
    });
    expect(current()).toBe(`releases/${B}`);
    expect(readFileSync(join(root, 'current', 'marker'), 'utf8')).toBe(B);
    expect(existsSync(join(base, 'PWNED')) || existsSync(join(root, 'PWNED'))).toBe(false);
    expect(treeListing(root).filter((line) => line.startsWith('.current'))).toEqual([]);
  });

  it('switches from the previous release and reports both', async () => {
    await switchRelease(target, config(root, { release: A }));
    const outcome = await switchRelease(target, config(root, { release: `releases/${C}` }));
    expect(outcome).toMatchObject({ ok: true, switched: true, currentRelease: C, previousRelease: A });
    expect(current()).toBe(`releases/${C}`);
    expect(outcome.results.map((r) => [r.name, r.status])).toEqual([
      ['release', 'pass'],
      ['switch current', 'pass'],
      ['prune', 'pass'],
    ]);
    expect(outcome.results.find((r) => r.name === 'switch current')?.detail).toContain(
      `releases/${A} → releases/${C} (atomic rename)`,
    );
  });

  it('accepts an absolute path inside releases/ and treats the current release as nothing to do', async () => {
    await switchRelease(target, config(root, { release: join(root, 'releases', B) }));
    const again = await switchRelease(target, config(root, { release: B, afterSwitch: ['exit 9'] }));
    expect(again).toMatchObject({ ok: true, switched: false, currentRelease: B });
  });

  it('runs hooks in the new release directory, before and after the switch', async () => {
    await switchRelease(target, config(root, { release: A }));
    const outcome = await switchRelease(
      target,
      config(root, {
        release: B,
        beforeSwitch: ['pwd -P > before.txt', 'readlink ../../current >> before.txt'],
        afterSwitch: [
          'echo "$DEPLOY_RELEASE $DEPLOY_PREVIOUS_RELEASE" > after.txt; readlink ../../current >> after.txt',
        ],
      }),
    );
    expect(outcome.ok).toBe(true);
    expect(readFileSync(join(root, 'releases', B, 'before.txt'), 'utf8')).toBe(
      `${join(root, 'releases', B)}\nreleases/${A}\n`,
    );
    expect(readFileSync(join(root, 'releases', B, 'after.txt'), 'utf8')).toBe(`${B} ${A}\nreleases/${B}\n`);
  });

  it('does not switch when a before-switch command fails', async () => {
    await switchRelease(target, config(root, { release: A }));
    const before = treeListing(root);
    const outcome = await switchRelease(
      target,
      config(root, { release: C, beforeSwitch: ['true', 'echo migration broke >&2; exit 7', 'touch never'] }),
    );
    expect(outcome).toMatchObject({ ok: false, switched: false, rolledBack: false, currentRelease: A });
    expect(outcome.failure).toContain(
      'before-switch command `echo migration broke >&2; exit 7` failed (exit 7: migration broke)',
    );
    expect(outcome.failure).toContain(`current was not switched and still points to releases/${A}`);
    expect(treeListing(root)).toEqual(before);
  });

  it('rolls back when an after-switch command fails', async () => {
    await switchRelease(target, config(root, { release: A }));
    const outcome = await switchRelease(
      target,
      config(root, { release: C, afterSwitch: ['sudo-less-reload; exit 3'] }),
    );
    expect(outcome).toMatchObject({
      ok: false,
      switched: true,
      rolledBack: true,
      currentRelease: A,
      previousRelease: A,
    });
    expect(outcome.failure).toContain(`rolled back: current points to releases/${A} again`);
    expect(current()).toBe(`releases/${A}`);
    expect(outcome.results.at(-1)).toMatchObject({ name: 'rollback on failure', status: 'pass' });
  });

  it('keeps the new release when rollback-on-failure is off', async () => {
    await switchRelease(target, config(root, { release: A }));
    const outcome = await switchRelease(
      target,
      config(root, { release: C, afterSwitch: ['exit 3'], rollbackOnFailure: false }),
    );
    expect(outcome).toMatchObject({ ok: false, switched: true, rolledBack: false, currentRelease: C });
    expect(current()).toBe(`releases/${C}`);
  });

  it('rolls back to the release before current, or to the one named', async () => {
    await switchRelease(target, config(root, { release: C }));
    const back = await switchRelease(target, config(root, { mode: 'rollback' }));
    expect(back).toMatchObject({ ok: true, switched: true, currentRelease: B, previousRelease: C });
    expect(current()).toBe(`releases/${B}`);
    const named = await switchRelease(target, config(root, { mode: 'rollback', release: C }));
    expect(named).toMatchObject({ ok: true, currentRelease: C, previousRelease: B });
  });

  it('does not switch back to the release a rollback left when its after-switch fails', async () => {
    await switchRelease(target, config(root, { release: C }));
    const outcome = await switchRelease(target, config(root, { mode: 'rollback', afterSwitch: ['exit 5'] }));
    expect(outcome).toMatchObject({
      ok: false,
      switched: true,
      rolledBack: false,
      currentRelease: B,
      previousRelease: C,
    });
    expect(outcome.failure).toContain(`this was a rollback, so current stays at releases/${B}`);
    expect(current()).toBe(`releases/${B}`);
  });

  it('refuses a rollback with nothing older, changing nothing', async () => {
    await switchRelease(target, config(root, { release: A }));
    const before = treeListing(root);
    await expect(switchRelease(target, config(root, { mode: 'rollback' }))).rejects.toThrow(
      `no release older than ${A}`,
    );
    expect(treeListing(root)).toEqual(before);
  });

  it('prunes to the newest `keep`, never current or previous', async () => {
    const names = [4, 5, 6, 7, 8].map(releaseName);
    await makeReleases(root, names); // now 1..8
    await switchRelease(target, config(root, { release: A, keep: 8 }));
    const outcome = await switchRelease(target, config(root, { release: releaseName(8), keep: 2 }));
    // Newest two (7, 8) plus previous (1) stay.
    expect(outcome.pruned).toEqual([2, 3, 4, 5, 6].map(releaseName));
    expect(treeListing(root).filter((line) => /^releases\/[^/]+\/$/.test(line))).toEqual(
      [1, 7, 8].map((i) => `releases/${releaseName(i)}/`),
    );
    // By history, the release live before 8 was 1 (7 was never live): the rollback goes there, pruning nothing.
    const rollback = await switchRelease(target, config(root, { mode: 'rollback', keep: 1 }));
    expect(rollback).toMatchObject({ currentRelease: A, pruned: [] });
  });

  it("switches in 2 round trips, with or without flock: the lock holder's script (lock, read, check, history), then one script through its open session (swap, history append, prune, release)", async () => {
    let calls = 0;
    const counting: Target = {
      description: target.description,
      run: (script, options) => (calls++, target.run(script, options)),
      close: async () => {},
    };
    // A directory whose name reads like the marker between the listing and the release check.
    await mkdir(join(root, 'releases', 'resolve-release'));
    const first = await switchRelease(counting, config(root, { release: A, keep: 8 }));
    expect(first).toMatchObject({ ok: true, switched: true, currentRelease: A, pruned: [], roundTrips: 2 });
    expect(calls).toBe(1); // one session on the target: the lock holder's
    calls = 0;
    const second = await switchRelease(counting, config(root, { release: C, keep: 1 }));
    expect(second).toMatchObject({
      ok: true,
      switched: true,
      currentRelease: C,
      previousRelease: A,
      pruned: [B],
      roundTrips: 2,
    });
    expect(calls).toBe(1);
    expect(current()).toBe(`releases/${C}`);
    expect(second.history).toMatchObject([{ release: C, outcome: 'live', from: A }]);
  });

  it('prunes only directories named like releases, never an upload in progress', async () => {
    await mkdir(join(root, 'releases', '.incoming-upload'));
    await mkdir(join(root, 'releases', 'upload-tmp'));
    await switchRelease(target, config(root, { release: A }));
    const outcome = await switchRelease(target, config(root, { release: C, keep: 0 }));
    expect(outcome.pruned).toEqual([B]);
    expect(outcome.results.find((r) => r.name === 'prune')?.detail).toContain(
      '2 other directories not matching the release naming left alone',
    );
    expect(treeListing(root).filter((line) => /^releases\/[^/]+\/$/.test(line))).toEqual([
      'releases/.incoming-upload/',
      `releases/${A}/`,
      `releases/${C}/`,
      'releases/upload-tmp/',
    ]);
    // A pattern of one's own: `v*` releases; the pack-bundle names do not match it and stay.
    await makeReleases(root, ['v1', 'v2', 'v3']);
    const own = await switchRelease(target, config(root, { release: 'v3', keep: 0, releasePattern: 'v*' }));
    expect(own.pruned).toEqual(['v1', 'v2']);
  });

  it('does not roll back a current that someone else changed meanwhile', async () => {
    await switchRelease(target, config(root, { release: A }));
    // The hook (standing in for anything that ignores the lock) points current at C, then fails.
    const outcome = await switchRelease(
      target,
      config(root, {
        release: B,
        afterSwitch: [`cd "$DEPLOY_RELEASES_ROOT" && ln -s releases/${C} other.tmp && mv -T other.tmp current; exit 3`],
      }),
    );
    expect(outcome).toMatchObject({ ok: false, switched: true, rolledBack: false, currentRelease: C });
    expect(outcome.failure).toContain(
      `not rolled back (current points to releases/${C}, not releases/${B}: changed by someone else)`,
    );
    expect(current()).toBe(`releases/${C}`);
  });

  it('waits for the deploy lock, names its holder, and gives up after lock-timeout changing nothing', async () => {
    const held = await acquireLock(target, root, {
      timeoutMs: 0,
      owner: 'run acme/app#77/1 (Deploy / switch), host runner-9, pid 4242',
    });
    const before = treeListing(root);
    const error = (await switchRelease(target, config(root, { release: B, lockTimeoutMs: 300 })).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toContain(
      `Another deploy holds the lock ${root}/.deploy-lock on ${target.description}: run acme/app#77/1 (Deploy / switch), host runner-9, pid 4242 (since 20`,
    );
    expect(error.message).toContain('(lock-timeout 300ms); nothing was changed');
    expect(treeListing(root)).toEqual(before);
    await held.release();
    expect(await switchRelease(target, config(root, { release: B, lockTimeoutMs: 0 }))).toMatchObject({
      ok: true,
      currentRelease: B,
    });
    expect(lockLeftovers()).toEqual(flock ? ['.deploy-lock.flock (0)'] : []);
  });

  it('breaks a lock whose holder stopped sending heartbeats', async () => {
    await mkdir(join(root, '.deploy-lock'));
    for (const [file, text] of Object.entries({
      owner: 'run acme/app#1/1, host gone, pid 1',
      token: 'dead',
      since: '1000',
      heartbeat: '1000',
    })) {
      await writeFile(join(root, '.deploy-lock', file), `${text}\n`);
    }
    const logger = new MemoryLogger();
    const outcome = await switchRelease(target, config(root, { release: B, lockTimeoutMs: 0 }), { logger });
    expect(outcome).toMatchObject({ ok: true, currentRelease: B });
    expect(logger.lines.find((l) => l.level === 'warning')?.message).toContain('Broke a stale deploy lock');
    expect(lockLeftovers()).toEqual(flock ? ['.deploy-lock.flock (0)'] : []);
  });

  it('with flock, takes over at once a lock directory whose holder no longer holds the flock (it died), however fresh its heartbeat', async () => {
    if (!flock) return;
    await mkdir(join(root, '.deploy-lock'));
    const now = String(Math.floor(Date.now() / 1000));
    for (const [file, text] of Object.entries({
      owner: 'run acme/app#2/1, host gone, pid 2',
      token: 'gone',
      since: now,
      heartbeat: now,
      flock: '',
    })) {
      await writeFile(join(root, '.deploy-lock', file), text && `${text}\n`);
    }
    const logger = new MemoryLogger();
    expect(await switchRelease(target, config(root, { release: B, lockTimeoutMs: 0 }), { logger })).toMatchObject({
      ok: true,
      currentRelease: B,
    });
    expect(logger.lines.find((l) => l.level === 'warning')?.message).toContain(
      'left by run acme/app#2/1, host gone, pid 2',
    );
    expect(lockLeftovers()).toEqual(['.deploy-lock.flock (0)']);
  });

  /** Resolves once `promise` settled or the logger shows it waiting for the lock, whichever comes first. */
  const settledOrWaiting = async (promise: Promise<unknown>, logger: MemoryLogger) => {
    let settled = false;
    void promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (
      let i = 0;
      i < 1500 && !settled && !logger.lines.some((l) => l.message.startsWith('Waiting for the deploy lock'));
      i++
    )
      await new Promise((r) => setTimeout(r, 20));
  };
  const waitFile = async (path: string) => {
    for (let i = 0; i < 1500 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 20));
  };
  /** A hook that says it started, then waits (at most 30 s) for the test to let it go. */
  const gate = (started: string, go: string) =>
    `touch ${shellQuote(started)}; i=0; while [ ! -e ${shellQuote(go)} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done`;

  it('serialises two switches: the one that waited never lands on a release the other pruned', async () => {
    await makeReleases(root, [D]);
    await switchRelease(target, config(root, { release: A }));
    const [started, go] = [join(root, 'started'), join(root, 'go')];
    // First run: a slow before-switch on its way to B (an older release).
    const first = switchRelease(target, config(root, { release: B, beforeSwitch: [gate(started, go)] }));
    await waitFile(started);
    // Second run meanwhile: D, keeping just one release (B is in its way).
    const logger = new MemoryLogger();
    const second = switchRelease(target, config(root, { release: D, keep: 1 }), { logger });
    await settledOrWaiting(second, logger);
    await writeFile(go, '');
    const [one, two] = await Promise.all([first, second]);
    expect(one).toMatchObject({ ok: true, currentRelease: B });
    expect(two).toMatchObject({ ok: true, currentRelease: D, previousRelease: B });
    expect(two.results[0]).toMatchObject({ name: 'lock', status: 'pass' });
    expect(readFileSync(join(root, 'current', 'marker'), 'utf8')).toBe(D);
    expect(current()).toBe(`releases/${D}`);
  });

  it('serialises two switches: a failed after-switch rolls back only its own switch', async () => {
    await switchRelease(target, config(root, { release: A }));
    const [started, go] = [join(root, 'started'), join(root, 'go')];
    const first = switchRelease(target, config(root, { release: B, afterSwitch: [`${gate(started, go)}; exit 1`] }));
    await waitFile(started);
    const logger = new MemoryLogger();
    const second = switchRelease(target, config(root, { release: C }), { logger });
    await settledOrWaiting(second, logger);
    await writeFile(go, '');
    const [one, two] = await Promise.all([first, second]);
    expect(one).toMatchObject({ ok: false, rolledBack: true, currentRelease: A });
    expect(two).toMatchObject({ ok: true, currentRelease: C, previousRelease: A });
    expect(current()).toBe(`releases/${C}`);
  });

  describe('bad input changes nothing', () => {
    const rejects = async (overrides: Partial<SwitchConfig>, message: string) => {
      const before = treeListing(root);
      const error = (await switchRelease(target, config(root, overrides)).catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toContain(message);
      expect(treeListing(root)).toEqual(before);
    };

    beforeEach(async () => {
      await switchRelease(target, config(root, { release: A }));
      await writeFile(join(root, 'releases', 'notes.txt'), 'not a release');
      await mkdir(join(base, `outside-${n}`), { recursive: true });
    });

    it('a missing release', () => rejects({ release: D }, `${D} does not exist`));
    it('a file instead of a directory', () => rejects({ release: 'notes.txt' }, 'is not a directory'));
    it('a release outside releases/ via ..', () =>
      rejects({ release: `../outside-${n}` }, 'which is not a directory directly inside'));
    it('an absolute path elsewhere', () =>
      rejects({ release: join(base, `outside-${n}`) }, 'which is not a directory directly inside'));
    it('the releases directory itself', () => rejects({ release: '..' }, 'is not a release name'));
    it('a symlink escaping releases/', async () => {
      await symlink(join(base, `outside-${n}`), join(root, 'releases', 'escape'));
      await rejects({ release: 'escape' }, 'which is not a directory directly inside');
    });
    it('a symlink inside releases/', async () => {
      await symlink(B, join(root, 'releases', 'alias'));
      await rejects({ release: 'alias' }, `is a symlink (to ${join(root, 'releases', B)})`);
    });
    it('a current that is a real directory', async () => {
      await rm(join(root, 'current'));
      await mkdir(join(root, 'current'));
      await rejects({ release: B }, 'is a real directory, not a symlink');
    });
    it('a releases-root without releases/', () =>
      rejects({ releasesRoot: join(base, `outside-${n}`), release: B }, 'has no releases/ directory'));
    it('a missing release in switch mode', () => rejects({ release: undefined }, 'is required when mode is switch'));
    it('a releases-root that does not exist', () =>
      rejects({ releasesRoot: join(base, `nowhere-${n}`), release: B }, 'is not a directory on'));
  });
});

describe('atomicity', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'dg-atomic-'));
    await makeReleases(root, [A, B]);
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('the reader notices when current is missing (so it can catch a non-atomic switch)', async () => {
    const stop = join(root, 'stop-probe');
    const reader = await startReader(node24, root, stop);
    await writeFile(stop, '');
    const report = await reader.done;
    expect(report.failures).toBeGreaterThan(0);
    expect(report.errors).toContain('ENOENT');
    await rm(stop);
  });

  it('current never goes missing or dangling during 1,000 switches', async () => {
    const target = new LocalTarget();
    await swapCurrent(target, root, A);
    const stop = join(root, 'stop');
    const reader = await startReader(node24, root, stop);
    for (let i = 0; i < 1000; i++) await swapCurrent(target, root, i % 2 === 0 ? B : A);
    await writeFile(stop, '');
    const report = await reader.done;
    expect(report.failures).toBe(0);
    expect(report.seen).toEqual([A, B]);
    expect(report.reads).toBeGreaterThan(1000);
    expect(readlinkSync(join(root, 'current'))).toBe(`releases/${A}`);
    expect(treeListing(root).filter((line) => line.startsWith('.current'))).toEqual([]);
  });
});
