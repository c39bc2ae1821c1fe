import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { UserError } from '../errors.js';
import { coreContext, type CoreContext } from '../context.js';
import { formatDuration } from '../units/duration.js';
import { PassThrough } from 'node:stream';
import { nulFields, shellQuote, type CommandResult, type Target } from '../hosts/target.js';

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
const iso = (seconds: number | undefined) =>
  seconds === undefined ? 'an unknown time' : new Date(seconds * 1000).toISOString().replace(/\.000Z$/, 'Z');

/** "run …, host …, pid … (since …, last heartbeat N s ago)" for messages. */
export function describeHolder(holder: LockHolder): string {
  const beat = holder.heartbeat ?? holder.since;
  const age = beat === undefined ? '' : `, last heartbeat ${Math.max(0, holder.now - beat)} s ago`;
  return `${holder.owner || 'an unknown owner (no owner file)'} (since ${iso(holder.since)}${age})`;
}

/** The owner, token, since and heartbeat of the lock directory as NUL-terminated fields, then the host's clock. */
const HOLDER_FIELDS = `printf '%s\\0%s\\0%s\\0%s\\0%s\\0' "$(cat ${LOCK_DIR}/owner 2>/dev/null)" "$(cat ${LOCK_DIR}/token 2>/dev/null)" "$(cat ${LOCK_DIR}/since 2>/dev/null)" "$(cat ${LOCK_DIR}/heartbeat 2>/dev/null)" "$(date +%s)"`;

/** A shell test that is true while the lock directory carries `token`. */
const holds = (token: string) => `[ "$(cat ${LOCK_DIR}/token 2>/dev/null)" = ${token} ]`;

/** Shell lines that remove the lock directory if (and only if) it is still `token`'s; true when they did. */
const releaseIfHeld = (token: string) =>
  `${holds(token)} && mv -T -- ${LOCK_DIR} ${LOCK_DIR}.released.${token} && rm -rf -- ${LOCK_DIR}.released.${token}`;

/** What one attempt printed, record by record (see attemptScript). */
interface AttemptOutput {
  waiting?: LockHolder;
  dead?: LockHolder;
  acquired?: { mode: 'flock' | 'mkdir'; output: string };
  held?: LockHolder;
  refused?: string[];
}

function holderOf(fields: string[], at: number, fallbackNow: number): LockHolder {
  return {
    owner: fields[at] ?? '',
    token: fields[at + 1] ?? '',
    since: epoch(fields[at + 2]),
    heartbeat: epoch(fields[at + 3]),
    now: epoch(fields[at + 4]) ?? fallbackNow,
  };
}

/** Reads an attempt's records: [waiting …] [dead …] then acquired <mode> <whenAcquired output> <ready>, or held …, or the precheck's refusal. */
function parseAttempt(stdout: string, ready: string, fallbackNow: number): AttemptOutput {
  const out: AttemptOutput = {};
  let rest = stdout;
  for (const record of ['waiting', 'dead'] as const) {
    if (!rest.startsWith(`${record}\0`)) continue;
    const fields = nulFields(rest);
    out[record] = holderOf(fields, 1, fallbackNow);
    rest = fields
      .slice(6)
      .map((field) => `${field}\0`)
      .join('');
  }
  if (rest.startsWith('acquired\0')) {
    const fields = nulFields(rest);
    const body = rest.slice(`acquired\0${fields[1]}\0`.length);
    const end = body.indexOf(`${ready}\0`);
    out.acquired = { mode: fields[1] === 'flock' ? 'flock' : 'mkdir', output: end >= 0 ? body.slice(0, end) : body };
  } else if (rest.startsWith('held\0')) out.held = holderOf(nulFields(rest), 1, fallbackNow);
  else out.refused = nulFields(rest);
  return out;
}

export async function acquireLock(
  target: Target,
  root: string,
  options: LockOptions,
  context: Partial<CoreContext> = {},
): Promise<HeldLock> {
  const { logger, now, sleep } = coreContext(context);
  const token = randomBytes(9).toString('hex');
  const owner = (options.owner ?? defaultLockOwner()).replace(/[\n\r\0]/g, ' ');
  const staleAfter = Math.ceil((options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS) / 1000);
  const cd = `cd -- ${options.rootShell ?? shellQuote(root)} || exit 3`;
  const where = `${root}/${LOCK_DIR} on ${target.description}`;
  const ready = `deploy-gates-lock-ready-${token}`;
  const started = now();
  const broke: string[] = [];
  let waitedFor: string | undefined;
  let pause = 250;

  const noteWaiting = (holder: LockHolder) => {
    const text = describeHolder(holder);
    const who = text.replace(/, last heartbeat .*$/, '');
    if (waitedFor !== who) {
      waitedFor = who;
      logger.info(
        `Waiting for the deploy lock ${where}, held by ${text} (lock-timeout ${formatDuration(options.timeoutMs)})`,
      );
    }
  };
  const timedOut = (holder: LockHolder) => {
    const waited = now() - started;
    if (waited < options.timeoutMs) return undefined;
    return new UserError(
      `Another deploy holds the lock ${where}: ${describeHolder(holder)}; waited ${formatDuration(waited)} (lock-timeout ${formatDuration(options.timeoutMs)}); nothing was changed. ` +
        `Run again when it is done (or raise lock-timeout); a lock whose holder died goes stale ${formatDuration(staleAfter * 1000)} after its last heartbeat, or remove ${root}/${LOCK_DIR} by hand once no deploy runs`,
    );
  };

  for (;;) {
    if (options.signal?.aborted)
      throw new UserError(`Cancelled while waiting for the deploy lock ${where}; nothing was changed`);
    const waitSeconds = Math.ceil(Math.max(0, options.timeoutMs - (now() - started)) / 1000);
    // The flock holder keeps running (holding the lock) until this stream ends: on release, or when this process dies.
    const stdin = new PassThrough();
    let streamed = '';
    let announced = false;
    let onReady: (output: string) => void = () => {};
    const readyOutput = new Promise<string>((resolve) => (onReady = resolve));
    const running = target.run(
      attemptScript({
        cd,
        token,
        owner,
        ready,
        waitSeconds,
        precheck: options.precheck,
        whenAcquired: options.whenAcquired,
      }),
      {
        stdin,
        onStdout: (chunk) => {
          streamed += chunk;
          if (!announced && streamed.startsWith('waiting\0') && nulFields(streamed).length >= 6) {
            announced = true;
            noteWaiting(parseAttempt(streamed, ready, Math.floor(now() / 1000)).waiting!);
          }
          if (streamed.includes(`${ready}\0`)) onReady(streamed);
        },
      },
    );
    running.catch(() => {});
    const first = await Promise.race([
      readyOutput.then((stdout) => ({ stdout, result: undefined })),
      running.then((result) => ({ stdout: result.stdout, result })),
    ]);
    if (first.result && first.result.exitCode !== 0) {
      throw new UserError(
        `Taking the deploy lock ${where} failed (exit ${first.result.exitCode}): ${first.result.stderr.trim() || 'no output'}; check that the deploy user may write to ${root}`,
      );
    }
    const attempt = parseAttempt(first.stdout, ready, Math.floor(now() / 1000));
    if (attempt.dead) {
      const text = describeHolder(attempt.dead);
      broke.push(text);
      logger.warning(
        `Removed the deploy lock ${where} left by ${text}: its holder is gone (it no longer holds the flock)`,
      );
    }
    if (attempt.acquired) {
      const { mode, output } = attempt.acquired;
      if (mode === 'mkdir') stdin.end();
      return holdLock({
        target,
        cd,
        token,
        where,
        options,
        logger,
        broke,
        waitedFor,
        waitedMs: waitedFor ? now() - started : 0,
        acquiredOutput: output,
        holder: mode === 'flock' ? { stdin, running } : undefined,
      });
    }
    stdin.end();
    if (attempt.refused) throw new LockRefused(attempt.refused);
    const holder = attempt.held!;
    const beat = holder.heartbeat ?? holder.since;
    if (beat !== undefined && holder.now - beat > staleAfter) {
      if (await breakStale(target, cd, token, holder)) {
        const text = describeHolder(holder);
        broke.push(text);
        logger.warning(
          `Broke a stale deploy lock ${where}: held by ${text}, older than ${formatDuration(staleAfter * 1000)} without a heartbeat`,
        );
      }
      continue;
    }
    const expired = timedOut(holder);
    if (expired) throw expired;
    noteWaiting(holder);
    await sleep(Math.min(pause, Math.max(1, options.timeoutMs - (now() - started))));
    pause = Math.min(pause * 2, 2000);
  }
}

interface AttemptScript {
  cd: string;
  token: string;
  owner: string;
  ready: string;
  waitSeconds: number;
  precheck?: string;
  whenAcquired?: string;
}

/**
 * One attempt to take the lock, as one script. Where the host has `flock`, it first takes an exclusive flock on
 * `.deploy-lock.flock` (waiting up to waitSeconds on the host itself, after printing who holds it), creates the lock
 * directory and then stays running, holding the flock, until its stdin ends: on release, or when the runner dies
 * (its ssh client closes), and then removes the directory. So a killed run never leaves a lock behind, and a lock
 * directory marked `flock` that is found under the flock belonged to a holder that is gone. Without flock the
 * directory alone is the lock (heartbeat and staleness). Prints, NUL-separated: [waiting <holder>] [dead <holder>]
 * then `acquired <flock|mkdir>` + whenAcquired's output + the ready marker, or `held <holder>`, or the precheck's refusal.
 */
function attemptScript({ cd, token, owner, ready, waitSeconds, precheck, whenAcquired }: AttemptScript): string {
  const release = releaseIfHeld(token);
  return [
    ...(precheck ? [precheck] : []),
    cd,
    `t=${LOCK_DIR}.${token}`,
    `fields() { ${HOLDER_FIELDS}; }`,
    'mode=mkdir',
    'if command -v flock >/dev/null 2>&1; then',
    `  ( : >> ${LOCK_DIR}.flock ) 2>/dev/null || { echo "cannot create ${LOCK_DIR}.flock in $(pwd)" >&2; exit 5; }`,
    `  exec 9>> ${LOCK_DIR}.flock`,
    `  if ! flock -n 9; then printf 'waiting\\0'; fields; flock -w ${waitSeconds} 9 || { printf 'held\\0'; fields; exit 0; }; fi`,
    '  mode=flock',
    `  if [ -f ${LOCK_DIR}/flock ]; then printf 'dead\\0'; fields; mv -T -- ${LOCK_DIR} ${LOCK_DIR}.dead.${token} && rm -rf -- ${LOCK_DIR}.dead.${token}; fi`,
    'fi',
    'rm -rf -- "$t"; mkdir -- "$t" || exit 4',
    'now=$(date +%s)',
    `printf '%s\\n' ${shellQuote(owner)} > "$t/owner" && printf '%s\\n' ${token} > "$t/token" && echo "$now" > "$t/since" && echo "$now" > "$t/heartbeat" || { rm -rf -- "$t"; exit 4; }`,
    '[ "$mode" = flock ] && : > "$t/flock"',
    `if mv -T -- "$t" ${LOCK_DIR} 2>/dev/null; then`,
    `  printf 'acquired\\0%s\\0' "$mode"`,
    ...(whenAcquired ? [`  ( ${whenAcquired}\n  )`] : []),
    `  printf '%s\\0' ${ready}`,
    '  [ "$mode" = flock ] || exit 0',
    `  trap '${release.replace(/'/g, `'\\''`)}; exit 143' HUP INT TERM`,
    '  cat > /dev/null',
    `  ${release} || exit 0`,
    '  exit 0',
    'fi',
    'rm -rf -- "$t"',
    `[ -d ${LOCK_DIR} ] || { echo "cannot create ${LOCK_DIR} in $(pwd)" >&2; exit 5; }`,
    "printf 'held\\0'; fields",
  ].join('\n');
}

/** Breaks a stale lock by compare-and-rename against the token and heartbeat that were judged stale; true when it did. */
async function breakStale(target: Target, cd: string, token: string, holder: LockHolder): Promise<boolean> {
  const broken = await target.run(
    [
      cd,
      `mkdir ${LOCK_DIR}.break 2>/dev/null || { find ${LOCK_DIR}.break -maxdepth 0 -mmin +1 -exec rm -rf {} \\; 2>/dev/null; exit 0; }`,
      `if ${holds(shellQuote(holder.token))} && [ "$(cat ${LOCK_DIR}/heartbeat 2>/dev/null)" = ${shellQuote(String(holder.heartbeat ?? ''))} ]; then`,
      `  mv -T -- ${LOCK_DIR} ${LOCK_DIR}.stale.${token} && rm -rf -- ${LOCK_DIR}.stale.${token} && printf 'broken\\0'`,
      'fi',
      `rmdir ${LOCK_DIR}.break`,
    ].join('\n'),
  );
  return broken.stdout.startsWith('broken');
}

interface Held {
  target: Target;
  cd: string;
  token: string;
  where: string;
  options: LockOptions;
  logger: CoreContext['logger'];
  broke: string[];
  waitedFor?: string;
  waitedMs: number;
  acquiredOutput: string;
  /** The flock holder on the host (flock mode): ending its stdin releases the lock. */
  holder?: { stdin: PassThrough; running: Promise<CommandResult> };
}

/** How long release waits for the flock holder to confirm it removed the lock directory. */
const RELEASE_WAIT_MS = 15_000;

function holdLock({
  target,
  cd,
  token,
  where,
  options,
  logger,
  broke,
  waitedFor,
  waitedMs,
  acquiredOutput,
  holder,
}: Held): HeldLock {
  const guard = `${holds(token)} || { echo "this run no longer holds the deploy lock ${LOCK_DIR} (broken as stale, or removed by hand); nothing more is changed" >&2; exit 6; }`;
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
  const releaseDirectory = async () => {
    const result = await target.run([cd, `${holds(token)} || exit 0`, releaseIfHeld(token)].join('\n'));
    if (result.exitCode !== 0)
      logger.warning(`Could not release the deploy lock ${where}: ${result.stderr.trim()}; remove it by hand`);
  };
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
      if (!holder) return releaseDirectory();
      // The holder removes the directory and ends, which releases the flock.
      holder.stdin.end();
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        holder.running.catch(() => undefined),
        new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), RELEASE_WAIT_MS))),
      ]);
      clearTimeout(timer);
      if (ended === 'late' || ended?.exitCode !== 0) {
        logger.warning(
          `The deploy lock holder on ${target.description} did not end cleanly${ended === 'late' ? ` within ${formatDuration(RELEASE_WAIT_MS)}` : ` (exit ${ended?.exitCode})`}; releasing ${where} directly`,
        );
        await releaseDirectory();
      }
    },
  };
}
