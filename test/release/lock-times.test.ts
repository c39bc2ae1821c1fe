import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '#core/errors.js';
import { MemoryLogger } from '#core/logger.js';
import type { Target } from '#core/hosts/target.js';
import { acquireLock, breakLock } from '#core/release/lock.js';
import { localWithoutFlockKind, targetKinds } from '../support/targets.js';

/**
 * The deploy lock's times (`since`, `heartbeat`): a holder with flock writes them as empty files whose mtime is the
 * time (no `date` on the host for a lock); without flock, and in every heartbeat the runner sends, they hold epoch
 * seconds. Whoever judges a lock (a waiter, the stale-lock break, `mode: unlock`) reads the seconds, or the mtime of
 * an empty file: a holder that stopped beating is still broken, a live one still is not.
 */
describe.each([...targetKinds, localWithoutFlockKind()])('deploy lock times on the $name target', (kind) => {
  const flock = kind.name !== 'local without flock';
  let target: Target;
  let base: string;
  let root: string;
  let n = 0;

  beforeAll(async () => {
    target = await kind.setup();
    base = await mkdtemp(join(tmpdir(), `dg-lock-times-${process.pid}-`));
  });
  afterAll(async () => {
    await kind.teardown();
    await rm(base, { recursive: true, force: true });
  });
  beforeEach(async () => {
    root = join(base, `app it's ${++n}`);
    await mkdir(join(root, 'releases'), { recursive: true });
  });

  const lockFile = (file: string) => join(root, '.deploy-lock', file);
  const nowSeconds = () => Math.floor(Date.now() / 1000);
  /** A lock directory left by someone else: its files, and the mtime (seconds ago) of since and heartbeat. */
  const writeLock = async (fields: Record<string, string>, ageSeconds: number) => {
    await mkdir(join(root, '.deploy-lock'));
    for (const [file, text] of Object.entries(fields)) await writeFile(lockFile(file), text && `${text}\n`);
    const at = nowSeconds() - ageSeconds;
    for (const file of ['since', 'heartbeat']) if (file in fields) await utimes(lockFile(file), at, at);
  };
  const heldBy = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error as Error,
    );

  it('a holder writes its times (empty files dated now with flock, seconds without); a waiter names them', async () => {
    const held = await acquireLock(target, root, { timeoutMs: 0, owner: 'run acme/app#1/1, host live, pid 1' });
    const since = readFileSync(lockFile('since'), 'utf8');
    expect(readFileSync(lockFile('heartbeat'), 'utf8')).toBe(since);
    if (flock) expect(since).toBe('');
    else expect(Math.abs(Number(since) - nowSeconds())).toBeLessThanOrEqual(5);
    const error = await heldBy(acquireLock(target, root, { timeoutMs: 300, owner: 'run acme/app#2/1' }));
    expect(error).toBeInstanceOf(UserError);
    const named = /run acme\/app#1\/1, host live, pid 1 \(since (\S+Z), last heartbeat (\d+) s ago\)/.exec(
      error!.message,
    );
    expect(named).not.toBeNull();
    expect(Math.abs(Date.parse(named![1]!) - Date.now())).toBeLessThan(10_000);
    expect(Number(named![2])).toBeLessThanOrEqual(5);
    await held.release();
    expect(existsSync(join(root, '.deploy-lock'))).toBe(false);
  });

  it('breaks a lock whose empty heartbeat file is older than the stale limit, once, naming its holder', async () => {
    const owner = 'run acme/app#3/1, host gone, pid 3';
    await writeLock({ owner, token: 'gone', since: '', heartbeat: '' }, 1000);
    const logger = new MemoryLogger();
    const lock = await acquireLock(target, root, { timeoutMs: 0, owner: 'run acme/app#4/1' }, { logger });
    expect(lock.broke).toEqual([expect.stringContaining(`${owner} (since `)]);
    expect(lock.broke[0]).toMatch(/last heartbeat 1\d\d\d s ago/);
    expect(logger.lines.find((l) => l.level === 'warning')?.message).toContain('Broke a stale deploy lock');
    expect(readFileSync(lockFile('owner'), 'utf8')).toBe('run acme/app#4/1\n');
    await lock.release();
  });

  it('does not break a lock whose empty heartbeat file is fresh: it waits, then names the holder', async () => {
    const owner = 'run acme/app#5/1, host busy, pid 5';
    await writeLock({ owner, token: 'busy', since: '', heartbeat: '' }, 2);
    const error = await heldBy(acquireLock(target, root, { timeoutMs: 300, owner: 'run acme/app#6/1' }));
    expect(error).toBeInstanceOf(UserError);
    expect(error!.message).toContain(`Another deploy holds the lock ${root}/.deploy-lock`);
    expect(error!.message).toMatch(/pid 5 \(since \S+Z, last heartbeat [0-9] s ago\)/);
    expect(readFileSync(lockFile('token'), 'utf8')).toBe('busy\n');
  });

  it('seconds written in the heartbeat file win over its mtime (the heartbeat the runner sends)', async () => {
    // A fresh file holding an old time: stale.
    await writeLock({ owner: 'run acme/app#7/1', token: 'old', since: '1000', heartbeat: '1000' }, 0);
    const lock = await acquireLock(target, root, { timeoutMs: 0, owner: 'run acme/app#8/1' });
    expect(lock.broke).toEqual([expect.stringContaining('run acme/app#7/1 (since 1970-01-01T00:16:40Z')]);
    await lock.release();
    // An old file holding the time now: alive.
    await writeLock({ owner: 'run acme/app#9/1', token: 'new', since: '', heartbeat: String(nowSeconds()) }, 1000);
    const error = await heldBy(acquireLock(target, root, { timeoutMs: 300, owner: 'run acme/app#10/1' }));
    expect(error?.message).toMatch(/run acme\/app#9\/1 \(since \S+Z, last heartbeat [0-9] s ago\)/);
    expect(readFileSync(lockFile('token'), 'utf8')).toBe('new\n');
  });

  it('unlock judges a lock without the flock mark by its heartbeat, read from the mtime of an empty file', async () => {
    await writeLock({ owner: 'run acme/app#11/1, host busy, pid 11', token: 'live', since: '', heartbeat: '' }, 2);
    expect(await breakLock(target, root, { force: false })).toMatchObject({
      state: 'refused',
      judgedBy: 'heartbeat',
      alive: true,
      holder: { owner: 'run acme/app#11/1, host busy, pid 11', token: 'live' },
    });
    expect(existsSync(join(root, '.deploy-lock'))).toBe(true);
    const at = nowSeconds() - 1000;
    await utimes(lockFile('heartbeat'), at, at);
    const outcome = await breakLock(target, root, { force: false });
    expect(outcome).toMatchObject({ state: 'broke', judgedBy: 'heartbeat', alive: false });
    expect(outcome.holder?.heartbeat).toBeLessThanOrEqual(at + 1);
    expect(existsSync(join(root, '.deploy-lock'))).toBe(false);
  });
});
