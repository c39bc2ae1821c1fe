import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { UserError } from '../errors.js';
import { coreContext, type CoreContext } from '../context.js';
import { formatDuration } from '../inputs/duration.js';
import { nulFields, shellQuote, type Target } from '../hosts/target.js';

/**
 * The deploy lock of a releases-root: `<releases-root>/.deploy-lock/`, a directory holding `owner` (run, host, pid),
 * `token` (random, per holder), `since` and `heartbeat` (epoch seconds).
 *
 * It is taken with one rename(2): the files are written into `.deploy-lock.<token>` and that directory is renamed to
 * `.deploy-lock` (`mv -T`), which fails while another holder's (non-empty) lock exists, so a lock is never seen
 * half-written. It works the same on every target (no `flock`, which would need one process holding the lock open on
 * the host for the whole switch, across many separate commands). The holder refreshes `heartbeat` while it works; a
 * lock whose heartbeat is older than `staleAfterMs` (its holder was killed, or the host lost it) is broken, once,
 * by compare-and-rename against the token and heartbeat that were judged stale, under a `.deploy-lock.break` mutex.
 * Every change the holder makes (swap, rollback, prune) first checks that the lock still carries its token.
 */
export const LOCK_DIR = '.deploy-lock';
export const DEFAULT_STALE_AFTER_MS = 120_000;
export const DEFAULT_HEARTBEAT_MS = 15_000;

export interface LockOptions {
  /** How long to wait for another holder; 0 tries once. */
  timeoutMs: number;
  /** Who we are, for the other side's message: run, host, pid. */
  owner?: string;
  staleAfterMs?: number;
  heartbeatMs?: number;
  signal?: AbortSignal;
  /** The releases-root as a shell word (default: `root` quoted); e.g. shellPath's `"$HOME"/app`. */
  rootShell?: string;
  /**
   * Shell lines run before every attempt, before the `cd` into releases-root: to refuse (print NUL-separated fields
   * and `exit 0`) before the lock is taken; acquireLock then throws LockRefused with those fields.
   */
  precheck?: string;
  /** Shell lines run in releases-root right after the lock is taken, in the same script; their stdout is `HeldLock.acquiredOutput`. */
  whenAcquired?: string;
}

/** The precheck of acquireLock refused (its fields say why); the lock was not taken. */
export class LockRefused extends Error {
  constructor(readonly fields: string[]) {
    super('the deploy lock was not taken: the precheck refused');
  }
}

export interface HeldLock {
  /** Shell lines (to run after `cd` into releases-root) that exit 6 unless this holder still holds the lock. */
  guard: string;
  /** How long acquiring waited for someone else, and for whom (undefined when the lock was free). */
  waitedMs: number;
  waitedFor?: string;
  /** Stale locks that were broken on the way. */
  broke: string[];
  /** What LockOptions.whenAcquired printed (empty without it). */
  acquiredOutput: string;
  release(): Promise<void>;
}

export interface LockHolder {
  owner: string;
  token: string;
  since?: number;
  heartbeat?: number;
  now: number;
}

/** Who is asking: the host and pid of this process; the caller adds the run. */
export function defaultLockOwner(): string {
  return `host ${hostname()}, pid ${process.pid}`;
}

const epoch = (text: string | undefined) => (text && /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined);
const iso = (seconds: number | undefined) => (seconds === undefined ? 'an unknown time' : new Date(seconds * 1000).toISOString().replace(/\.000Z$/, 'Z'));

/** "run …, host …, pid … (since …, last heartbeat N s ago)" for messages. */
export function describeHolder(holder: LockHolder): string {
  const beat = holder.heartbeat ?? holder.since;
  const age = beat === undefined ? '' : `, last heartbeat ${Math.max(0, holder.now - beat)} s ago`;
  return `${holder.owner || 'an unknown owner (no owner file)'} (since ${iso(holder.since)}${age})`;
}

export async function acquireLock(target: Target, root: string, options: LockOptions, context: Partial<CoreContext> = {}): Promise<HeldLock> {
  const { logger, now, sleep } = coreContext(context);
  const token = randomBytes(9).toString('hex');
  const owner = (options.owner ?? defaultLockOwner()).replace(/[\n\r\0]/g, ' ');
  const staleAfter = Math.ceil((options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS) / 1000);
  const cd = `cd -- ${options.rootShell ?? shellQuote(root)} || exit 3`;
  const where = `${root}/${LOCK_DIR} on ${target.description}`;
  const started = now();
  const broke: string[] = [];
  let waitedFor: string | undefined;
  let pause = 250;
  let acquiredOutput = '';

  const attempt = [
    ...(options.precheck ? [options.precheck] : []),
    cd,
    `t=${LOCK_DIR}.${token}`,
    'rm -rf -- "$t"; mkdir -- "$t" || exit 4',
    'now=$(date +%s)',
    `printf '%s\\n' ${shellQuote(owner)} > "$t/owner" && printf '%s\\n' ${token} > "$t/token" && echo "$now" > "$t/since" && echo "$now" > "$t/heartbeat" || { rm -rf -- "$t"; exit 4; }`,
    `if mv -T -- "$t" ${LOCK_DIR} 2>/dev/null; then printf 'acquired\\0'; ${options.whenAcquired ? `( ${options.whenAcquired}\n);` : ''} exit 0; fi`,
    'rm -rf -- "$t"',
    `[ -d ${LOCK_DIR} ] || { echo "cannot create ${LOCK_DIR} in $(pwd)" >&2; exit 5; }`,
    `printf 'held\\0%s\\0%s\\0%s\\0%s\\0%s\\0' "$(cat ${LOCK_DIR}/owner 2>/dev/null)" "$(cat ${LOCK_DIR}/token 2>/dev/null)" "$(cat ${LOCK_DIR}/since 2>/dev/null)" "$(cat ${LOCK_DIR}/heartbeat 2>/dev/null)" "$now"`,
  ].join('\n');

  for (;;) {
    if (options.signal?.aborted) throw new UserError(`Cancelled while waiting for the deploy lock ${where}; nothing was changed`);
    const result = await target.run(attempt);
    if (result.exitCode !== 0) {
      throw new UserError(`Taking the deploy lock ${where} failed (exit ${result.exitCode}): ${result.stderr.trim() || 'no output'}; check that the deploy user may write to ${root}`);
    }
    const parts = nulFields(result.stdout);
    if (parts[0] === 'acquired') {
      acquiredOutput = result.stdout.slice('acquired\0'.length);
      break;
    }
    if (parts[0] !== 'held') throw new LockRefused(parts);
    const holder: LockHolder = { owner: parts[1] ?? '', token: parts[2] ?? '', since: epoch(parts[3]), heartbeat: epoch(parts[4]), now: epoch(parts[5]) ?? Math.floor(now() / 1000) };
    const beat = holder.heartbeat ?? holder.since;
    if (beat !== undefined && holder.now - beat > staleAfter) {
      const broken = await target.run(
        [
          cd,
          `mkdir ${LOCK_DIR}.break 2>/dev/null || { find ${LOCK_DIR}.break -maxdepth 0 -mmin +1 -exec rm -rf {} \\; 2>/dev/null; exit 0; }`,
          `if [ "$(cat ${LOCK_DIR}/token 2>/dev/null)" = ${shellQuote(holder.token)} ] && [ "$(cat ${LOCK_DIR}/heartbeat 2>/dev/null)" = ${shellQuote(parts[4] ?? '')} ]; then`,
          `  mv -T -- ${LOCK_DIR} ${LOCK_DIR}.stale.${token} && rm -rf -- ${LOCK_DIR}.stale.${token} && printf 'broken\\0'`,
          'fi',
          `rmdir ${LOCK_DIR}.break`,
        ].join('\n'),
      );
      if (broken.stdout.startsWith('broken')) {
        const text = describeHolder(holder);
        broke.push(text);
        logger.warning(`Broke a stale deploy lock ${where}: held by ${text}, older than ${formatDuration(staleAfter * 1000)} without a heartbeat`);
      }
      continue;
    }
    const text = describeHolder(holder);
    const who = text.replace(/, last heartbeat .*$/, '');
    const waited = now() - started;
    if (waited >= options.timeoutMs) {
      throw new UserError(
        `Another deploy holds the lock ${where}: ${text}; waited ${formatDuration(waited)} (lock-timeout ${formatDuration(options.timeoutMs)}); nothing was changed. ` +
          `Run again when it is done (or raise lock-timeout); a lock whose holder died goes stale ${formatDuration(staleAfter * 1000)} after its last heartbeat, or remove ${root}/${LOCK_DIR} by hand once no deploy runs`,
      );
    }
    if (waitedFor !== who) {
      waitedFor = who;
      logger.info(`Waiting for the deploy lock ${where}, held by ${text} (lock-timeout ${formatDuration(options.timeoutMs)})`);
    }
    await sleep(Math.min(pause, Math.max(1, options.timeoutMs - waited)));
    pause = Math.min(pause * 2, 2000);
  }

  const waitedMs = waitedFor ? now() - started : 0;
  const guard = `[ "$(cat ${LOCK_DIR}/token 2>/dev/null)" = ${token} ] || { echo "this run no longer holds the deploy lock ${LOCK_DIR} (broken as stale, or removed by hand); nothing more is changed" >&2; exit 6; }`;
  let beating: Promise<unknown> | undefined;
  const heartbeat = setInterval(() => {
    if (beating) return;
    beating = target
      .run([cd, guard, `date +%s > ${LOCK_DIR}/heartbeat`].join('\n'))
      .then((result) => {
        if (result.exitCode !== 0) logger.warning(`Deploy lock heartbeat on ${where} failed: ${result.stderr.trim()}`);
      })
      .catch(() => {})
      .finally(() => (beating = undefined));
  }, options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
  heartbeat.unref();
  let released = false;
  return {
    guard,
    acquiredOutput,
    waitedMs,
    waitedFor,
    broke,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      await beating;
      const result = await target.run(
        [cd, `[ "$(cat ${LOCK_DIR}/token 2>/dev/null)" = ${token} ] || exit 0`, `mv -T -- ${LOCK_DIR} ${LOCK_DIR}.released.${token} && rm -rf -- ${LOCK_DIR}.released.${token}`].join('\n'),
      );
      if (result.exitCode !== 0) logger.warning(`Could not release the deploy lock ${where}: ${result.stderr.trim()}; remove it by hand`);
    },
  };
}
