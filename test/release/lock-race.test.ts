import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Target } from '#core/hosts/target.js';
import { acquireLock } from '#core/release/lock.js';
import { localWithoutFlockKind } from '../support/targets.js';

/**
 * Without flock the lock directory alone is the lock: a run renames its written directory into place, and a rename
 * that fails means another run holds it. That run may release between the failed rename and the look at the lock
 * (two switches at once on a fast host did, in CI). An `mv` in front of the real one plays the other run exactly
 * there: it puts a lock in place, runs the real rename (which fails on it), and releases.
 */
describe('the deploy lock on a host without flock, when the holder releases during the rename', () => {
  const kind = localWithoutFlockKind();
  let inner: Target;
  let base: string;
  let root: string;
  let n = 0;

  beforeAll(async () => {
    inner = await kind.setup();
    base = await mkdtemp(join(tmpdir(), `dg-lock-race-${process.pid}-`));
  });
  afterAll(async () => {
    await kind.teardown();
    await rm(base, { recursive: true, force: true });
  });
  beforeEach(async () => {
    root = join(base, `app ${++n}`);
    await mkdir(join(root, 'releases'), { recursive: true });
  });

  /** The target with `mv` shimmed: for the first `races` renames onto .deploy-lock, `racer` runs around the real one. */
  function racingTarget(races: number, racer: string): Target {
    const bin = mkdtempSync(join(base, 'shim-'));
    const count = join(bin, 'count');
    const shim = [
      '#!/bin/sh',
      'for last; do :; done',
      `raced=$(cat ${count} 2>/dev/null || echo 0)`,
      `if [ "$last" = .deploy-lock ] && [ "$raced" -lt ${races} ]; then`,
      `  echo $((raced + 1)) > ${count}`,
      `  ${racer}`,
      'fi',
      'exec /usr/bin/mv "$@"',
    ].join('\n');
    writeFileSync(join(bin, 'mv'), `${shim}\n`, { mode: 0o755 });
    return { ...inner, run: (script, options) => inner.run(`PATH=${bin}:$PATH; export PATH\n${script}`, options) };
  }
  // Another run's lock, in place for the real rename, released as soon as it failed.
  const releasedDuringRename =
    'mkdir .deploy-lock && echo other > .deploy-lock/token; /usr/bin/mv "$@"; rm -rf .deploy-lock; exit 1';

  it('takes the lock (the rename is tried again) instead of failing with "cannot create"', async () => {
    const lock = await acquireLock(racingTarget(1, releasedDuringRename), root, { timeoutMs: 0, owner: 'run 2' });
    expect(existsSync(join(root, '.deploy-lock', 'token'))).toBe(true);
    await lock.release();
    expect(existsSync(join(root, '.deploy-lock'))).toBe(false);
  });

  it('a rename that keeps failing with no lock in its way is still an error that names the directory', async () => {
    const failing = racingTarget(1_000, 'exit 1');
    await expect(acquireLock(failing, root, { timeoutMs: 0, owner: 'run 3' })).rejects.toThrow(
      /cannot create \.deploy-lock in .*app 2; check that the deploy user may write to/,
    );
    expect(existsSync(join(root, '.deploy-lock'))).toBe(false);
  });
});
