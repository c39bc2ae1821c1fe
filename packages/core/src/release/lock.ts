import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { UserError } from '../errors.js';
import { coreContext, type CoreContext } from '../context.js';
import { formatDuration } from '../units/duration.js';
import { PassThrough } from 'node:stream';
import { nulFields, shellQuote, type CommandResult, type Target } from '../hosts/target.js';
import { StreamedText } from '../hosts/streamed-text.js';

/**
 * The deploy lock of a releases-root: `<releases-root>/.deploy-lock/`, a directory holding `owner` (run, host, pid),
 * `token` (random, per holder), `since` and `heartbeat` (epoch seconds; a holder with flock writes them empty, their
 * mtime being the time, and the heartbeats write the seconds: see TIME_FN).
 *
 * It is taken with one rename(2): the files are written into `.deploy-lock.<token>` and that directory is renamed to
 * `.deploy-lock` (`mv -T`), which fails while another holder's (non-empty) lock exists, so a lock is never seen
 * half-written. The script that takes it stays running on the host as the holder's session (see holderLoop): it
 * holds the `flock` where the host has one, runs the scripts sent through HeldLock.run without a new session each,
 * and removes the lock directory when its stdin ends (on release, or when the runner dies and its connection closes).
 * It also records its pid (`pid`), so `mode: unlock` with force can stop it. The holder refreshes `heartbeat` while it works; a
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
  /**
   * An exit code of `whenAcquired` (run as a subshell) meaning "the holder's work is done": the same script then
   * releases the lock and ends, with no holder session after it (HeldLock.finished; nothing can be sent through it).
   */
  doneExit?: number;
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
  /** whenAcquired exited with LockOptions.doneExit: the script released the lock itself and ended (run() refuses). */
  finished: boolean;
  /**
   * Runs a script in releases-root through the holder's open session (one round trip, no new session); with `last`,
   * the holder then releases the lock and ends in the same round trip (release() then only waits for it to end).
   */
  run(script: string, options?: { last?: boolean }): Promise<CommandResult>;
  /** How many scripts went through run(), plus release() when it had to tell a waiting holder to end: each one round trip. */
  exchanges(): number;
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

/**
 * A shell function printing a time file of the lock directory (`since`, `heartbeat`) as epoch seconds: its content, or,
 * when it is empty, its mtime. A flock holder writes them empty (their mtime is the time: no `date` on the host for
 * the lock), the heartbeat and a holder without flock write the seconds. Read only while waiting, breaking or
 * unlocking, where a program more costs nothing that matters.
 */
const TIME_FN = `dg_time() { dg_v=$(cat "$1" 2>/dev/null); [ -n "$dg_v" ] || [ ! -f "$1" ] || dg_v=$(date -r "$1" +%s 2>/dev/null) || dg_v=$(stat -c %Y "$1" 2>/dev/null); printf '%s' "$dg_v"; }`;

/** The owner, token, since and heartbeat of the lock directory as NUL-terminated fields, then the host's clock. */
const HOLDER_FIELDS = `${TIME_FN}; printf '%s\\0%s\\0%s\\0%s\\0%s\\0' "$(cat ${LOCK_DIR}/owner 2>/dev/null)" "$(cat ${LOCK_DIR}/token 2>/dev/null)" "$(dg_time ${LOCK_DIR}/since)" "$(dg_time ${LOCK_DIR}/heartbeat)" "$(date +%s)"`;

/** A shell test that is true while the lock directory carries `token`. */
const holds = (token: string) => `[ "$(cat ${LOCK_DIR}/token 2>/dev/null)" = ${token} ]`;

/**
 * The same test for this run's own token (hex), with the `read` builtin instead of a `cat` (a fork and an exec on
 * the host for every guarded step). It reads the first line only: whoever could add a second one could as well
 * write the token itself.
 */
const holdsOwn = (token: string) =>
  `{ dg_t=; { IFS= read -r dg_t < ${LOCK_DIR}/token; } 2>/dev/null; [ "$dg_t" = ${token} ]; }`;

/** Shell lines that remove the lock directory if (and only if) it is still `token`'s; true when they did. */
const releaseIfHeld = (token: string) =>
  `${holdsOwn(token)} && mv -T -- ${LOCK_DIR} ${LOCK_DIR}.released.${token} && rm -rf -- ${LOCK_DIR}.released.${token}`;

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

/** What acquireLock works with across attempts. */
interface Acquiring {
  target: Target;
  root: string;
  options: LockOptions;
  context: CoreContext;
  token: string;
  owner: string;
  staleAfter: number;
  cd: string;
  where: string;
  ready: string;
  started: number;
  broke: string[];
  waitedFor?: string;
}

/**
 * Takes the deploy lock of releases-root (see LOCK_DIR): one script on the host that waits, takes it, runs
 * `whenAcquired` and then stays open as the lock holder's session, running the scripts sent through HeldLock.run.
 */
export async function acquireLock(
  target: Target,
  root: string,
  options: LockOptions,
  context: Partial<CoreContext> = {},
): Promise<HeldLock> {
  const full = coreContext(context);
  const token = randomBytes(9).toString('hex');
  const state: Acquiring = {
    target,
    root,
    options,
    context: full,
    token,
    owner: (options.owner ?? defaultLockOwner()).replace(/[\n\r\0]/g, ' '),
    staleAfter: Math.ceil((options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS) / 1000),
    cd: `cd -- ${options.rootShell ?? shellQuote(root)} || exit 3`,
    where: `${root}/${LOCK_DIR} on ${target.description}`,
    ready: `deploy-gates-lock-ready-${token}`,
    started: full.now(),
    broke: [],
  };
  let pause = 250;
  for (;;) {
    if (options.signal?.aborted)
      throw new UserError(`Cancelled while waiting for the deploy lock ${state.where}; nothing was changed`);
    const held = await attemptOnce(state);
    if ('lock' in held) return held.lock;
    const holder = held.holder;
    const beat = holder.heartbeat ?? holder.since;
    if (beat !== undefined && holder.now - beat > state.staleAfter) {
      if (await breakStale(target, state.cd, token, holder)) {
        const text = describeHolder(holder);
        state.broke.push(text);
        full.logger.warning(
          `Broke a stale deploy lock ${state.where}: held by ${text}, older than ${formatDuration(state.staleAfter * 1000)} without a heartbeat`,
        );
      }
      continue;
    }
    const waited = full.now() - state.started;
    if (waited >= options.timeoutMs) throw lockTimedOut(state, holder, waited);
    noteWaiting(state, holder);
    await full.sleep(Math.min(pause, Math.max(1, options.timeoutMs - waited)));
    pause = Math.min(pause * 2, 2000);
  }
}

function noteWaiting(state: Acquiring, holder: LockHolder): void {
  const text = describeHolder(holder);
  const who = text.replace(/, last heartbeat .*$/, '');
  if (state.waitedFor === who) return;
  state.waitedFor = who;
  state.context.logger.info(
    `Waiting for the deploy lock ${state.where}, held by ${text} (lock-timeout ${formatDuration(state.options.timeoutMs)})`,
  );
}

function lockTimedOut(state: Acquiring, holder: LockHolder, waited: number): UserError {
  const { where, options, root, staleAfter } = state;
  return new UserError(
    `Another deploy holds the lock ${where}: ${describeHolder(holder)}; waited ${formatDuration(waited)} (lock-timeout ${formatDuration(options.timeoutMs)}); nothing was changed. ` +
      `Run again when it is done (or raise lock-timeout); a lock whose holder died goes stale ${formatDuration(staleAfter * 1000)} after its last heartbeat, or break it with release-switch \`mode: unlock\` (or remove ${root}/${LOCK_DIR} by hand) once no deploy runs`,
  );
}

/** One attempt: the lock (as a HeldLock whose session stays open), or who holds it. Throws for a refusal or an error. */
async function attemptOnce(state: Acquiring): Promise<{ lock: HeldLock } | { holder: LockHolder }> {
  const { target, options, context, token, ready, where } = state;
  const now = () => Math.floor(context.now() / 1000);
  const waitSeconds = Math.ceil(Math.max(0, options.timeoutMs - (context.now() - state.started)) / 1000);
  let announced = false;
  const session = startSession(
    target,
    attemptScript({
      ...state,
      waitSeconds,
      precheck: options.precheck,
      whenAcquired: options.whenAcquired,
      doneExit: options.doneExit,
    }),
    ready,
    `deploy-gates-done-${token}`,
    (streamed) => {
      if (announced || !streamed.startsWith('waiting\0') || nulFields(streamed).length < 6) return;
      announced = true;
      noteWaiting(state, parseAttempt(streamed, ready, now()).waiting!);
    },
  );
  const first = await session.first;
  if (first.result && first.result.exitCode !== 0) {
    throw new UserError(
      `Taking the deploy lock ${where} failed (exit ${first.result.exitCode}): ${first.result.stderr.trim() || 'no output'}; check that the deploy user may write to ${state.root}`,
    );
  }
  const attempt = parseAttempt(first.stdout, ready, now());
  if (attempt.dead) {
    const text = describeHolder(attempt.dead);
    state.broke.push(text);
    context.logger.warning(
      `Removed the deploy lock ${where} left by ${text}: its holder is gone (it no longer holds the flock)`,
    );
  }
  if (attempt.acquired) {
    const waitedMs = state.waitedFor ? context.now() - state.started : 0;
    const finished = `${finishedMark(token)}\0`;
    const output = attempt.acquired.output;
    const done = output.endsWith(finished);
    return { lock: holdLock(state, session, waitedMs, done ? output.slice(0, -finished.length) : output, done) };
  }
  session.stdin.end();
  if (attempt.refused) throw new LockRefused(attempt.refused);
  return { holder: attempt.held! };
}

/** The attempt script running on the host: its first answer, and after the lock is taken, its command channel. */
interface Session {
  stdin: PassThrough;
  running: Promise<CommandResult>;
  /** The output up to and including the ready marker, or all of it (with the result) when the script ended first. */
  first: Promise<{ stdout: string; result?: CommandResult }>;
  /** Runs a script in the holder; with `last`, the holder then releases the lock and ends. */
  send(script: string, last: boolean): Promise<CommandResult>;
}

/** How much of the attempt's first output may name a holder it waits for (owner, token and times: well under this). */
const WAITING_HEAD = 8192;

/**
 * Starts the attempt script with its stdin held open (the flock holder keeps running, holding the lock, until this
 * stream ends: on release, or when this process dies). After the ready marker every script written to stdin runs in
 * the holder and answers `\0<mark>\0<exit>\0<stderr>\0<mark>-end\0` after its stdout: one round trip, no new session.
 */
function startSession(
  target: Target,
  script: string,
  ready: string,
  mark: string,
  onWaiting: (streamed: string) => void,
): Session {
  const stdin = new PassThrough();
  const streamed = new StreamedText();
  let after = -1;
  let onReady: (stdout: string) => void = () => {};
  let pending: (() => void) | undefined;
  const readyOutput = new Promise<string>((resolve) => (onReady = resolve));
  // In the target's open session when it has one (no new session for the lock); the holder then ends on the end line
  // release() writes, as the session's stdin stays open.
  const running = target.run(script, {
    stdin,
    reuse: true,
    asCommand: true,
    onStdout: (chunk) => {
      streamed.push(chunk);
      if (after < 0) {
        // Who holds the lock comes first and is short: the head is enough, and it is not looked at again and again.
        if (streamed.length - chunk.length < WAITING_HEAD) onWaiting(streamed.slice(0, WAITING_HEAD));
        const at = streamed.indexOf(`${ready}\0`);
        if (at >= 0) {
          after = at + ready.length + 1;
          onReady(streamed.slice(0, after));
        }
      }
      pending?.();
    },
  });
  running.catch(() => {});
  const first = Promise.race([
    readyOutput.then((stdout) => ({ stdout, result: undefined })),
    running.then((result) => ({ stdout: result.stdout, result })),
  ]);
  const send = (text: string, last: boolean) =>
    new Promise<CommandResult>((resolve, reject) => {
      const started = performance.now();
      const [begin, end] = [`\0${mark}\0`, `\0${mark}-end\0`];
      const from = after;
      const answer = () => {
        const b = streamed.indexOf(begin, from);
        const e = b < 0 ? -1 : streamed.indexOf(end, b + begin.length);
        if (e < 0) return;
        const [code = '', ...stderr] = streamed.slice(b + begin.length, e).split('\0');
        after = e + end.length;
        pending = undefined;
        const exitCode = /^\d+$/.test(code) ? Number(code) : 1;
        resolve({
          exitCode,
          stdout: streamed.slice(from, b),
          stderr: stderr.join(''),
          timedOut: false,
          durationMs: performance.now() - started,
        });
      };
      pending = answer;
      running.then((result) => {
        if (pending !== answer) return;
        pending = undefined;
        reject(
          new UserError(
            `The deploy lock holder on ${target.description} ended (exit ${result.exitCode}) before it answered: ${result.stderr.trim() || 'no output'}`,
          ),
        );
      }, reject);
      stdin.write(`${text}\n@@dg-${last ? 'last' : 'do'}-${mark}\n`);
    });
  return { stdin, running, first, send };
}

interface AttemptScript {
  cd: string;
  token: string;
  owner: string;
  ready: string;
  waitSeconds: number;
  precheck?: string;
  whenAcquired?: string;
  doneExit?: number;
}

/** Printed (with the holder's token) right before the ready marker when whenAcquired exited with doneExit. */
const finishedMark = (token: string) => `deploy-gates-lock-finished-${token}`;

/**
 * One attempt to take the lock, as one script. Where the host has `flock`, it first takes an exclusive flock on
 * `.deploy-lock.flock` (waiting up to waitSeconds on the host itself, after printing who holds it), creates the lock
 * directory and then stays running, holding the flock, until its stdin ends: on release, or when the runner dies
 * (its ssh client closes), and then removes the directory. So a killed run never leaves a lock behind, and a lock
 * directory marked `flock` that is found under the flock belonged to a holder that is gone. Without flock the
 * directory alone is the lock (heartbeat and staleness). Prints, NUL-separated: [waiting <holder>] [dead <holder>]
 * then `acquired <flock|mkdir>` + whenAcquired's output + the ready marker, or `held <holder>`, or the precheck's refusal.
 * Once ready, it is the holder's session: see holderLoop.
 */
function attemptScript(script: AttemptScript): string {
  const { cd, token, owner, ready, waitSeconds, precheck, whenAcquired, doneExit } = script;
  return [
    ...(precheck ? [precheck] : []),
    cd,
    `t=${LOCK_DIR}.${token}`,
    `fields() { ${HOLDER_FIELDS}; }`,
    'mode=mkdir',
    'if command -v flock >/dev/null 2>&1; then',
    `  [ -f ${LOCK_DIR}.flock ] && [ -w ${LOCK_DIR}.flock ] || ( : >> ${LOCK_DIR}.flock ) 2>/dev/null || { echo "cannot create ${LOCK_DIR}.flock in $(pwd)" >&2; exit 5; }`,
    `  exec 9>> ${LOCK_DIR}.flock`,
    `  if ! flock -n 9; then printf 'waiting\\0'; fields; flock -w ${waitSeconds} 9 || { printf 'held\\0'; fields; exit 0; }; fi`,
    '  mode=flock',
    `  if [ -f ${LOCK_DIR}/flock ]; then printf 'dead\\0'; fields; mv -T -- ${LOCK_DIR} ${LOCK_DIR}.dead.${token} && rm -rf -- ${LOCK_DIR}.dead.${token}; fi`,
    'fi',
    '[ ! -e "$t" ] || rm -rf -- "$t"; mkdir -- "$t" || exit 4',
    // Under flock, since and heartbeat are empty files whose mtime is the time (TIME_FN): no `date` for a lock that a
    // live holder keeps by the flock. Without flock, where the heartbeat alone tells a live holder, they hold the seconds.
    `if [ "$mode" = flock ]; then : > "$t/since" && : > "$t/heartbeat" && : > "$t/flock"; else now=$(date +%s) && echo "$now" > "$t/since" && echo "$now" > "$t/heartbeat"; fi || { rm -rf -- "$t"; exit 4; }`,
    `printf '%s\\n' ${shellQuote(owner)} > "$t/owner" && printf '%s\\n' ${token} > "$t/token" && echo $$ > "$t/pid" || { rm -rf -- "$t"; exit 4; }`,
    // The rename fails while another run's lock is in place: held. Without flock that run may release between the
    // rename and the look at the lock: then the rename is tried again, and only a rename that fails with no lock
    // there (a few times over) is an error.
    'dg_take=',
    `for dg_try in 1 2 3 4; do if mv -T -- "$t" ${LOCK_DIR} 2>/dev/null; then dg_take=acquired; break; elif [ -d ${LOCK_DIR} ]; then dg_take=held; break; fi; done`,
    'if [ "$dg_take" = acquired ]; then',
    `  printf 'acquired\\0%s\\0' "$mode"`,
    ...(whenAcquired ? [`  ( ${whenAcquired}\n  )`] : []),
    ...(doneExit === undefined
      ? [`  printf '%s\\0' ${ready}`]
      : [
          // The work is done in this script: release the lock and end, with no holder session after it.
          // Under flock nobody else can look at the lock directory before this script ends (and drops the flock):
          // it is removed in place, without the rename that keeps a directory-only lock whole to the last moment.
          `  if [ $? = ${doneExit} ]; then printf '%s\\0%s\\0' ${finishedMark(token)} ${ready}; if [ "$mode" = flock ]; then ${holdsOwn(token)} && rm -rf -- ${LOCK_DIR}; else ${releaseIfHeld(token)}; fi; exit 0; fi`,
          `  printf '%s\\0' ${ready}`,
        ]),
    holderLoop(token),
    'fi',
    'rm -rf -- "$t"',
    `[ "$dg_take" = held ] || { echo "cannot create ${LOCK_DIR} in $(pwd)" >&2; exit 5; }`,
    "printf 'held\\0'; fields",
  ].join('\n');
}

/**
 * The lock holder's session: reads scripts from stdin (lines up to `@@dg-do-<mark>`, or `@@dg-last-<mark>` for the
 * last one), runs each in a subshell in releases-root, and answers its exit and stderr after its stdout (see
 * startSession). When stdin ends, at the line `@@dg-end-<mark>` (release: the target's open session keeps stdin open),
 * after the last script, or on a signal, it removes the lock directory if it is still
 * this holder's and ends, which also releases the flock. Scripts are read with `read -r`, one byte at a time from the
 * pipe, so nothing past a script's end is consumed early.
 */
function holderLoop(token: string): string {
  const release = releaseIfHeld(token);
  const mark = `deploy-gates-done-${token}`;
  return [
    `  trap '${release.replace(/'/g, `'\\''`)}; exit 143' HUP INT TERM`,
    '  exec 3>&1',
    '  while :; do',
    '    dg_s=; dg_end=',
    '    while IFS= read -r dg_l; do',
    `      case $dg_l in @@dg-do-${mark}) dg_end=do; break ;; @@dg-last-${mark}) dg_end=last; break ;; @@dg-end-${mark}) break ;; esac`,
    '      dg_s="$dg_s$dg_l',
    '"',
    '    done',
    '    [ -n "$dg_end" ] || break',
    '    dg_e=$( { ( eval "$dg_s" ); } 2>&1 1>&3 ); dg_c=$?',
    `    printf '\\0%s\\0%s\\0%s\\0%s-end\\0' ${mark} "$dg_c" "$dg_e" ${mark}`,
    '    [ "$dg_end" = last ] && break',
    '  done',
    `  ${release} || exit 0`,
    '  exit 0',
  ].join('\n');
}

/** Breaks a stale lock by compare-and-rename against the token and heartbeat that were judged stale; true when it did. */
async function breakStale(target: Target, cd: string, token: string, holder: LockHolder): Promise<boolean> {
  const broken = await target.run(
    [
      cd,
      `mkdir ${LOCK_DIR}.break 2>/dev/null || { find ${LOCK_DIR}.break -maxdepth 0 -mmin +1 -exec rm -rf {} \\; 2>/dev/null; exit 0; }`,
      TIME_FN,
      `if ${holds(shellQuote(holder.token))} && [ "$(dg_time ${LOCK_DIR}/heartbeat)" = ${shellQuote(String(holder.heartbeat ?? ''))} ]; then`,
      `  mv -T -- ${LOCK_DIR} ${LOCK_DIR}.stale.${token} && rm -rf -- ${LOCK_DIR}.stale.${token} && printf 'broken\\0'`,
      'fi',
      `rmdir ${LOCK_DIR}.break`,
    ].join('\n'),
  );
  return broken.stdout.startsWith('broken');
}

/** How long release waits for the lock holder to confirm it removed the lock directory. */
const RELEASE_WAIT_MS = 15_000;

function holdLock(
  state: Acquiring,
  session: Session,
  waitedMs: number,
  acquiredOutput: string,
  finished: boolean,
): HeldLock {
  const { target, cd, token, where, options, broke, waitedFor } = state;
  const logger = state.context.logger;
  const guard = `${holdsOwn(token)} || { echo "this run no longer holds the deploy lock ${LOCK_DIR} (broken as stale, or removed by hand); nothing more is changed" >&2; exit 6; }`;
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
  // A finished holder released the lock and ended by itself: release() only waits for its end.
  let ending = finished;
  if (finished) clearInterval(heartbeat);
  let exchanges = 0;
  const release = async () => {
    // The holder removes the directory and ends, which releases the flock: at the end line, or at end of input.
    // Waiting for a holder that still waits for input is a round trip too: counted with the scripts sent.
    if (!ending) {
      exchanges++;
      session.stdin.end(`@@dg-end-deploy-gates-done-${token}\n`);
    }
    ending = true;
    clearInterval(heartbeat);
    await beating;
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      session.running.catch(() => undefined),
      new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), RELEASE_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (ended !== 'late' && ended?.exitCode === 0) return;
    logger.warning(
      `The deploy lock holder on ${target.description} did not end cleanly${ended === 'late' ? ` within ${formatDuration(RELEASE_WAIT_MS)}` : ` (exit ${ended?.exitCode})`}; releasing ${where} directly`,
    );
    const result = await target.run([cd, `${holdsOwn(token)} || exit 0`, releaseIfHeld(token)].join('\n'));
    if (result.exitCode !== 0)
      logger.warning(`Could not release the deploy lock ${where}: ${result.stderr.trim()}; remove it by hand`);
  };
  let releasing: Promise<void> | undefined;
  return {
    guard,
    acquiredOutput,
    finished,
    waitedMs,
    waitedFor,
    broke,
    exchanges: () => exchanges,
    run: async (script, { last = false } = {}) => {
      if (ending) throw new Error(`the deploy lock ${where} was already released`);
      exchanges++;
      if (last) {
        ending = true;
        clearInterval(heartbeat);
      }
      return session.send(script, last);
    },
    release: () => (releasing ??= release()),
  };
}

export interface UnlockOutcome {
  /** `none`: there was no lock; `broke`: it was removed; `refused`: a live holder holds it and force was off. */
  state: 'none' | 'broke' | 'refused';
  /** The holder named by the lock directory (when there was one). */
  holder?: LockHolder;
  /** How its liveness was judged: `flock` (held by a running process or not) or `heartbeat` (no flock on the host). */
  judgedBy?: 'flock' | 'heartbeat';
  /** Whether the holder was alive (held the flock, or a fresh heartbeat). */
  alive?: boolean;
  /** For a forced break of a live flock holder: whether its process on the host was stopped. */
  stopped?: boolean;
  /**
   * The pid the lock names is not a process that holds the lock file (a stale or forged pid file, or a host without
   * /proc): nothing was killed, and the holder keeps the flock until its session ends.
   */
  holderUnverified?: boolean;
}

/**
 * Breaks the deploy lock of releases-root by hand (`mode: unlock`). A lock whose holder is gone (where the host has
 * flock: nobody holds the flock; else: no heartbeat for staleAfterMs) is removed; a live holder's lock is refused
 * unless `force`, which also stops the holder's session on the host (its pid, recorded in the lock), so the flock
 * is free for the next deploy; that run's next change is then refused by its guard. One script, one round trip.
 */
export async function breakLock(
  target: Target,
  root: string,
  {
    force,
    staleAfterMs = DEFAULT_STALE_AFTER_MS,
    rootShell,
  }: { force: boolean; staleAfterMs?: number; rootShell?: string },
): Promise<UnlockOutcome> {
  const stale = Math.ceil(staleAfterMs / 1000);
  const result = await target.run(
    [
      `cd -- ${rootShell ?? shellQuote(root)} || exit 3`,
      `[ -d ${LOCK_DIR} ] || { printf 'none\\0'; exit 0; }`,
      `printf 'holder\\0'; ${HOLDER_FIELDS}`,
      'alive=; by=heartbeat',
      `if command -v flock >/dev/null 2>&1 && [ -f ${LOCK_DIR}/flock ] && [ -f ${LOCK_DIR}.flock ]; then`,
      `  by=flock; exec 9>> ${LOCK_DIR}.flock; if flock -n 9; then alive=no; else alive=yes; fi`,
      'else',
      `  b=$(dg_time ${LOCK_DIR}/heartbeat); case $b in ''|*[!0-9]*) alive=no ;; *) [ $(( $(date +%s) - b )) -gt ${stale} ] && alive=no || alive=yes ;; esac`,
      'fi',
      `printf '%s\\0%s\\0' "$by" "$alive"`,
      `[ "$alive" = yes ] && [ ${force ? 1 : 0} = 0 ] && { printf 'refused\\0'; exit 0; }`,
      'stopped=no',
      // The pid file is only a claim (any process of the deploy user can write it, and a pid is reused): a process is
      // stopped only when it holds the lock file open on fd 9, as the holder's shell does (Linux /proc).
      `holds() { [ -e /proc/$1/fd/9 ] && [ /proc/$1/fd/9 -ef ${LOCK_DIR}.flock ]; }`,
      'if [ "$alive" = yes ] && [ "$by" = flock ]; then',
      `  p=$(cat ${LOCK_DIR}/pid 2>/dev/null); case $p in ''|*[!0-9]*) stopped=unverified ;; *) if holds "$p"; then kill -TERM "$p" 2>/dev/null && stopped=yes; else stopped=unverified; fi ;; esac`,
      '  [ "$stopped" = unverified ] || flock -w 2 9 || { [ "$stopped" = yes ] && holds "$p" && kill -KILL "$p" 2>/dev/null; flock -w 3 9 || stopped=no; }',
      'fi',
      `if [ -d ${LOCK_DIR} ]; then mv -T -- ${LOCK_DIR} ${LOCK_DIR}.unlocked.$$ && rm -rf -- ${LOCK_DIR}.unlocked.$$ || exit 4; fi`,
      `printf 'broke\\0%s\\0' "$stopped"`,
    ].join('\n'),
  );
  if (result.exitCode !== 0)
    throw new UserError(
      `Breaking the deploy lock ${root}/${LOCK_DIR} on ${target.description} failed (exit ${result.exitCode}): ${result.stderr.trim() || 'no output'}; check that ${root} exists and the deploy user may write to it`,
    );
  const fields = nulFields(result.stdout);
  if (fields[0] !== 'holder') return { state: 'none' };
  const holder = holderOf(fields, 1, Math.floor(Date.now() / 1000));
  const judgedBy = fields[6] === 'flock' ? 'flock' : 'heartbeat';
  const alive = fields[7] === 'yes';
  if (fields[8] === 'refused') return { state: 'refused', holder, judgedBy, alive };
  const broke: UnlockOutcome = { state: 'broke', holder, judgedBy, alive, stopped: fields[9] === 'yes' };
  return fields[9] === 'unverified' ? { ...broke, holderUnverified: true } : broke;
}
