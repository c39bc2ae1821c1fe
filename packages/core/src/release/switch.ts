import { randomBytes } from 'node:crypto';
import { ArgumentError, UserError } from '../errors.js';
import { coreContext, type CoreContext } from '../context.js';
import type { CheckResult } from '../report/result.js';
import { formatDuration } from '../units/duration.js';
import { nameGlob } from '../units/glob.js';
import { countingTarget, nulFields, shellPath, shellQuote, type CommandResult, type Target } from '../hosts/target.js';
import { acquireLock, defaultLockOwner, LockRefused, type HeldLock } from './lock.js';
import { formatHistoryLine, HISTORY_FILE, type HistoryEntry } from './history.js';
import { historyAppendLines, historyEntry, historyReadLines, historyWritableLines, splitHistory } from './journal.js';
import { knownSha, previousGood, releasesToPrune } from './rules.js';
import { ACCEPTED_FILE, acceptedDigest, acceptedWriteLines } from './accepted.js';
import { FAST_DONE_EXIT, fastPlan, fastPruneLines, fastRefusal, parseFastAnswer, type FastPlan } from './fast.js';
import { parseSteps, pruneLines, stepFailure, stepsScript, swapScript, type Step, type StepResults } from './steps.js';
import type { SwapPrecondition } from './steps.js';
export type { SwapPrecondition } from './steps.js';
import { readSharedSection, sharedLinkSection, sharedResults, type SharedOutcome, type SharedPlan } from './shared.js';

/** A hook's output kept in memory for the log: its last 64 KiB (`yes` in a hook must not exhaust memory). */
const HOOK_OUTPUT_TAIL_BYTES = 64 * 1024;

/**
 * Release layout on the target:
 *
 *   <releases-root>/releases/<YYYYMMDD_HHMMSS>-<sha8>/   one directory per release
 *   <releases-root>/current -> releases/<name>           relative symlink, so the tree can be moved or mounted elsewhere
 *
 * The switch writes a new symlink under a temporary name beside `current` and renames it over `current`
 * (`mv -T`, i.e. rename(2)), so at every instant `current` exists and resolves to a whole release.
 * `ln -sfn` is atomic only where `ln` itself renames (GNU coreutils 9.1 does); older or busybox `ln` unlinks `current`
 * and then creates it, and a request in between finds nothing (see the release-switch benchmark).
 */

export interface SwitchConfig {
  releasesRoot: string;
  /** A name under releases/, or a path (absolute, or relative to releasesRoot) that must resolve to one. */
  release?: string;
  mode: 'switch' | 'rollback';
  /**
   * How many good releases (not marked bad) to keep, newest by name up to current (see rules.ts releasesToPrune);
   * current, the previous good release and releases newer than current are always kept.
   */
  keep: number;
  beforeSwitch: readonly string[];
  afterSwitch: readonly string[];
  /**
   * After a failed after-switch hook: switch back (true), leave current on the new release and say so (false), or
   * leave it for the caller's coordinated rollback ('coordinated': release-services rolls back every service it
   * switched, this one included, in its rollback order).
   */
  rollbackOnFailure: boolean | 'coordinated';
  /** Budget of one hook command. */
  hookTimeoutMs?: number;
  /** How long to wait for another run's deploy lock on releases-root (default 5 minutes). */
  lockTimeoutMs?: number;
  /** Who takes the lock (run, host, pid), shown to whoever waits for it, and the `run` of its history entries. */
  lockOwner?: string;
  /** The commit the release being switched to was built from (40 hex), for its history entry; else null. */
  sha?: string | null;
  /** Glob for the directory names under releases/ that are releases (pruning and the default rollback only consider these). */
  releasePattern?: string;
  /**
   * A cancelled job: stops the running hook (its remote process group over SSH), switches nothing more, rolls back a
   * switch this run made when rollbackOnFailure is on, and releases the lock.
   */
  signal?: AbortSignal;
  /** Shared files and directories linked into the release before its hooks (mode switch only; see shared.ts). */
  shared?: SharedPlan;
  /**
   * The release `current` must point to, as read under the lock (a coordinated rollback undoing its own switch):
   * anything else is refused with nothing changed, as someone else moved it.
   */
  expectCurrent?: string;
  /** Mode rollback: also record the release it leaves `bad`, in the same append (no mark-bad step of its own). */
  markLeftBad?: boolean;
}

/** The naming pack-bundle gives releases: `<YYYYMMDD_HHMMSS>-<sha8>`. */
export const DEFAULT_RELEASE_PATTERN =
  '[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]_[0-9][0-9][0-9][0-9][0-9][0-9]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]';
export const DEFAULT_LOCK_TIMEOUT_MS = 5 * 60_000;

/**
 * What is wrong with a release-pattern, or undefined. A `[` no `]` closes would be a literal `[` (as in a shell), and
 * then no release ever matches: nothing is pruned, and a rollback finds no release. As a pattern for names made by
 * a deploy, that is a typo (`[0-9`), told before anything runs.
 */
export function releasePatternProblem(pattern: string): string | undefined {
  if (pattern.includes('/'))
    return `is not a glob for one directory name (it holds a "/"); e.g. ${DEFAULT_RELEASE_PATTERN}`;
  for (let i = pattern.indexOf('['); i >= 0; i = pattern.indexOf('[', i + 1)) {
    const end = pattern.indexOf(']', i + 2);
    if (end < 0)
      return `"${pattern}" has a "[" that no "]" closes (a class is written [0-9]); e.g. ${DEFAULT_RELEASE_PATTERN}`;
    i = end;
  }
  return undefined;
}

/** The names under releases/ that are releases by the pattern (dot-names never are, as with a shell glob). */
export function matchingReleases(names: readonly string[], pattern: string = DEFAULT_RELEASE_PATTERN): string[] {
  const regexp = nameGlob(pattern);
  return names.filter((name) => !name.startsWith('.') && regexp.test(name));
}

export interface SwitchOutcome {
  ok: boolean;
  /** What `current` points to at the end (undefined only if it never existed). */
  currentRelease?: string;
  /** What `current` pointed to before this run, when it was a release. */
  previousRelease?: string;
  switched: boolean;
  rolledBack: boolean;
  pruned: string[];
  results: CheckResult[];
  /** Why the step fails, for people; undefined when ok. */
  failure?: string;
  /** History entries this run appended to `<releases-root>/.deploy-gates/history.jsonl`, in order. */
  history: HistoryEntry[];
  /**
   * Round trips to the target: every script started (over SSH a new session each: the lock holder's, hooks,
   * heartbeats) plus every script sent through the lock holder's open session.
   */
  roundTrips: number;
}

type LockedOutcome = Omit<SwitchOutcome, 'roundTrips'>;

export interface ReleaseLayout {
  /** Physical path of releases-root. */
  root: string;
  /** Physical path of releases-root/releases. */
  releasesDir: string;
  /** Release directory names (real directories only), sorted by name. */
  releases: string[];
  /** The release `current` resolves to, when it is a symlink into releases/. */
  current?: string;
  /** What `current` holds when it is a symlink (readlink), for messages. */
  currentLink?: string;
}

const NAME_PROBLEM = /[\n\r\0]/;
/** What is wrong with the requested release (the action names its input). */
const releaseProblem = (text: string) => new ArgumentError('release', text);

async function script(target: Target, text: string, what: string): Promise<string> {
  const result = await target.run(text, { reuse: true });
  if (result.exitCode !== 0) {
    throw new UserError(
      `${what} failed on ${target.description} (exit ${result.exitCode}): ${result.stderr.trim() || result.stdout.trim() || 'no output'}`,
    );
  }
  return result.stdout;
}

/** Reads releases-root: its releases and where `current` points. Changes nothing. */
export async function inspectReleases(target: Target, releasesRoot: string): Promise<ReleaseLayout> {
  const out = await script(target, inspectLines(shellPath(releasesRoot)).join('\n'), `Reading ${releasesRoot}`);
  return parseLayout(target, releasesRoot, nulFields(out));
}

/**
 * The script that inspectReleases runs; `root` is already quoted for the shell. It may end the script (exit 0).
 * `linkKnown`: a shell test that is true when the runner does not need `current`'s link text (no `readlink` then).
 */
function inspectLines(root: string, linkKnown?: string): string[] {
  return [
    // Physical paths by `cd -P` and $PWD (POSIX), not `$(cd … && pwd -P)`: no fork for each on the host.
    `cd -P -- ${root} 2>/dev/null || { printf 'noroot\\0'; exit 0; }`,
    'dg_r=$PWD',
    `printf 'root\\0%s\\0' "$dg_r"`,
    `[ -d releases ] || { printf 'noreleases\\0'; exit 0; }`,
    `if cd -P releases; then printf 'releases\\0%s\\0' "$PWD"; cd -P -- "$dg_r" || exit 3; else printf 'releases\\0\\0'; fi`,
    `if [ -L current ]; then ${linkKnown ? `${linkKnown} || ` : ''}printf 'link\\0%s\\0' "$(readlink current)"; if [ -d current ] && cd -P current; then printf 'resolves\\0%s\\0' "$PWD"; cd -P -- "$dg_r" || exit 3; fi`,
    `elif [ -d current ]; then printf 'currentdir\\0'`,
    `elif [ -e current ]; then printf 'currentfile\\0'; fi`,
    `for d in releases/* releases/.[!.]* releases/..?*; do if [ -d "$d" ] && [ ! -L "$d" ]; then printf 'release\\0%s\\0' "\${d#releases/}"; fi; done`,
  ];
}

/** Reads what inspectLines printed (NUL-separated fields); throws the user errors for a root that is not a releases-root. */
function parseLayout(target: Target, releasesRoot: string, parts: readonly string[]): ReleaseLayout {
  const layout: Partial<ReleaseLayout> & { releases: string[] } = { releases: [] };
  let resolves: string | undefined;
  for (let i = 0; i < parts.length; i++) {
    const key = parts[i];
    if (key === 'noroot')
      throw new ArgumentError(
        'releasesRoot',
        `${releasesRoot} is not a directory on ${target.description}; pass the directory that holds releases/ and current`,
      );
    if (key === 'noreleases')
      throw new ArgumentError(
        'releasesRoot',
        `${releasesRoot} has no releases/ directory on ${target.description}; unpack releases into ${releasesRoot}/releases/<name> first`,
      );
    if (key === 'currentdir' || key === 'currentfile') {
      throw new UserError(
        `${releasesRoot}/current on ${target.description} is a real ${key === 'currentdir' ? 'directory' : 'file'}, not a symlink; ` +
          'nothing was changed. Move it into releases/<name> and link current to it once by hand (see the README), then run again',
      );
    }
    const value = parts[++i] ?? '';
    if (key === 'root') layout.root = value;
    else if (key === 'releases') layout.releasesDir = value;
    else if (key === 'link') layout.currentLink = value;
    else if (key === 'resolves') resolves = value;
    else if (key === 'release' && !NAME_PROBLEM.test(value)) layout.releases.push(value);
  }
  layout.releases.sort();
  if (resolves !== undefined && parentOf(resolves) === layout.releasesDir) {
    const name = baseOf(resolves);
    if (layout.releases.includes(name)) layout.current = name;
  }
  return layout as ReleaseLayout;
}

/** Marks where the release check starts in a script that inspects and resolves at once. */
const RESOLVE_MARK = 'resolve-release';

/**
 * A script that reads releases-root (as inspectReleases does) and, given a release, checks it from the physical
 * releases-root (as resolveRelease does): one round trip. It runs in releases-root (the lock's script is there), in a
 * subshell of its own: the read may end it (`exit`), as the check's last line may leave the directory. The check
 * follows the read in the same shell (no subshell more): a read that ended early (releases-root gone) has said why.
 * Returns the script and how to read its output.
 */
function readScript(releasesRoot: string, release: string | undefined, linkKnown?: string) {
  const path = release === undefined ? undefined : releaseRequest(release).path;
  const text = [
    ...inspectLines('.', linkKnown),
    // inspectLines ends in the physical releases-root.
    ...(path === undefined ? [] : [`printf '${RESOLVE_MARK}\\0'`, ...resolveLines(path)]),
  ].join('\n');
  const parse = (target: Target, out: string): { layout: ReleaseLayout; wanted?: string } => {
    const parts = nulFields(out);
    if (release === undefined) return { layout: parseLayout(target, releasesRoot, parts) };
    // The listing ends at the mark: walk its keys (a value, e.g. a directory name, may read like the mark).
    let mark = 0;
    while (mark < parts.length && parts[mark] !== RESOLVE_MARK)
      mark += ['noroot', 'noreleases', 'currentdir', 'currentfile'].includes(parts[mark]!) ? 1 : 2;
    if (mark >= parts.length) mark = -1;
    const layout = parseLayout(target, releasesRoot, mark < 0 ? parts : parts.slice(0, mark));
    return { layout, wanted: interpretResolve(target, layout, release, mark < 0 ? [] : parts.slice(mark + 1)) };
  };
  return { text, parse };
}

/** Refuses a releases-root that is not one (missing, no releases/, a real `current`) before the lock is taken. */
function rootPrecheck(releasesRoot: string): string {
  return [
    `dg_root=${shellPath(releasesRoot)}`,
    // `-x`: the directory can be entered (what `cd` needs), without a subshell to try it.
    `if [ ! -d "$dg_root" ] || [ ! -x "$dg_root" ]; then printf 'noroot\\0'; exit 0; fi`,
    `[ -d "$dg_root/releases" ] || { printf 'noreleases\\0'; exit 0; }`,
    `if [ -L "$dg_root/current" ]; then :; elif [ -d "$dg_root/current" ]; then printf 'currentdir\\0'; exit 0; elif [ -e "$dg_root/current" ]; then printf 'currentfile\\0'; exit 0; fi`,
  ].join('\n');
}

const parentOf = (path: string) => path.replace(/\/[^/]*$/, '') || '/';
const baseOf = (path: string) => path.replace(/^.*\//, '');

/** Checks the form of the requested release (no host needed); returns where it would be, relative to releases-root. */
function releaseRequest(release: string): { path: string } {
  const input = `"${release}"`;
  if (NAME_PROBLEM.test(release) || release.trim() === '')
    throw releaseProblem(`${input} is not a release name or path`);
  const isPath = release.includes('/');
  if (!isPath && (release === '.' || release === '..'))
    throw releaseProblem(
      `${input} is not a release name; pass a directory name under releases/, e.g. 20250102_030405-abcdef12`,
    );
  return { path: isPath ? release : `releases/${release}` };
}

/** Script lines that describe `path` (run in the physical releases-root). */
function resolveLines(path: string): string[] {
  return [
    `p=${shellPath(path)}`,
    `if [ -L "$p" ]; then printf 'symlink\\0'; fi`,
    // The last line: it may leave the directory it describes.
    `if [ -d "$p" ]; then printf 'dir\\0'; cd -P -- "$p" && printf '%s' "$PWD"; printf '\\0'; elif [ -e "$p" ]; then printf 'notdir\\0'; else printf 'missing\\0'; fi`,
  ];
}

/** Resolves the requested release to a release name under releases/, or explains why it is not one. Changes nothing. */
export async function resolveRelease(target: Target, layout: ReleaseLayout, release: string): Promise<string> {
  const { path } = releaseRequest(release);
  const out = await script(
    target,
    [`cd -- ${shellQuote(layout.root)} || exit 3`, ...resolveLines(path)].join('\n'),
    `Checking release ${release}`,
  );
  return interpretResolve(target, layout, release, nulFields(out));
}

function interpretResolve(target: Target, layout: ReleaseLayout, release: string, parts: readonly string[]): string {
  const input = `"${release}"`;
  const isPath = release.includes('/');
  const path = releaseRequest(release).path;
  const symlink = parts[0] === 'symlink';
  const kind = symlink ? parts[1] : parts[0];
  const real = symlink ? parts[2] : parts[1];
  const where = `on ${target.description}`;
  const available =
    layout.releases.length > 0 ? `available: ${layout.releases.slice(-5).reverse().join(', ')}` : 'releases/ is empty';
  if (kind === 'missing')
    throw releaseProblem(
      `${input}: ${isPath ? release : `${layout.releasesDir}/${release}`} does not exist ${where}; nothing was changed (${available})`,
    );
  if (kind === 'notdir')
    throw releaseProblem(
      `${input}: ${path} is not a directory ${where}; a release is a directory under releases/; nothing was changed`,
    );
  if (real === undefined || parentOf(real) !== layout.releasesDir) {
    throw releaseProblem(
      `${input} resolves to ${real ?? 'an unknown place'}, which is not a directory directly inside ${layout.releasesDir} ${where}; ` +
        'releases must live in releases-root/releases/ (no "..", no paths elsewhere, no symlinks out); nothing was changed',
    );
  }
  if (symlink) {
    throw releaseProblem(
      `${input}: ${path} is a symlink (to ${real}); a release must be a real directory under releases/, pass ${baseOf(real)} instead; nothing was changed`,
    );
  }
  return baseOf(real);
}

/**
 * Points `current` at releases/<name> atomically: a new relative symlink under a temporary name in releases-root,
 * then rename(2) over `current` (`mv -T`). There is no moment when `current` is missing or dangling.
 */
export async function swapCurrent(
  target: Target,
  root: string,
  name: string,
  precondition: SwapPrecondition = {},
): Promise<void> {
  await script(target, swapScript(root, name, precondition), `Switching current to releases/${name}`);
}

/** What a locked operation starts from: the lock, releases-root as read under it, the release asked for, history. */
export interface LockedRead {
  lock: HeldLock;
  layout: ReleaseLayout;
  /** The requested release, checked under the lock (undefined when none was requested). */
  requested?: string;
  history: HistoryEntry[];
  /** Where history.jsonl is, for messages. */
  historyWhere: string;
  /** history.jsonl's text as read (what `history` was parsed from). */
  historyText: string;
  /** What the one-script switch's section printed, when it ran (see fast.ts). */
  fast?: { output: string; historyError?: UserError };
  lockResult?: CheckResult;
  /** What linking the shared files did, when asked (see shared.ts). */
  shared?: SharedOutcome;
}

/**
 * Takes the deploy lock of releases-root and, in the same script, reads releases-root, checks the requested release
 * and reads history.jsonl: one round trip. A releases-root that is not one is refused before the lock is taken.
 */
export async function lockAndRead(
  target: Target,
  config: Pick<SwitchConfig, 'releasesRoot' | 'release' | 'lockTimeoutMs' | 'lockOwner' | 'signal'>,
  context: CoreContext,
  shared?: SharedPlan,
  fast?: FastPlan,
): Promise<LockedRead> {
  // Runs in releases-root, where the lock is. With the one-script switch, its check comes first: when the host goes
  // ahead, `current`'s link text is not needed (the read skips its `readlink`).
  const read = readScript(config.releasesRoot, config.release, fast?.linkKnown);
  const linking = shared && sharedLinkSection(shared, shellPath(releaseRequest(config.release!).path));
  const mark = `deploy-gates-history-${randomBytes(6).toString('hex')}`;
  const lockStart = performance.now();
  let lock: HeldLock;
  try {
    lock = await acquireLock(
      target,
      config.releasesRoot,
      {
        timeoutMs: config.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
        owner: config.lockOwner,
        signal: config.signal,
        rootShell: shellPath(config.releasesRoot),
        precheck: rootPrecheck(config.releasesRoot),
        whenAcquired: [
          ...(linking ? [linking] : []),
          ...(fast ? [fast.check] : []),
          `( ${read.text}\n)`,
          ...(fast ? [fast.lines] : []),
          historyReadLines(mark),
          ...(fast ? [`[ -z "$dg_done" ] || exit ${FAST_DONE_EXIT}`] : []),
        ].join('\n'),
        doneExit: fast ? FAST_DONE_EXIT : undefined,
      },
      context,
    );
  } catch (error) {
    if (!(error instanceof LockRefused)) throw error;
    parseLayout(target, config.releasesRoot, error.fields);
    throw new UserError(
      `Reading ${config.releasesRoot} on ${target.description} gave an unexpected answer (${error.fields.slice(0, 2).join(' ')}); nothing was changed`,
    );
  }
  try {
    const historyWhere = `${config.releasesRoot}/${HISTORY_FILE} on ${target.description}`;
    const { before: all, history, text, historyError } = readHistory(lock, mark, historyWhere);
    const at = fast ? all.indexOf(`${fast.mark}\0`) : -1;
    const before = at < 0 ? all : all.slice(0, at);
    const split = shared ? readSharedSection(shared, before) : undefined;
    const seen = read.parse(target, split?.rest ?? before);
    context.logger.info(
      `Holding the deploy lock ${seen.layout.root}/.deploy-lock${lock.waitedFor ? ` (waited ${formatDuration(lock.waitedMs)})` : ''}`,
    );
    const lockResult: CheckResult | undefined = lock.waitedFor
      ? {
          name: 'lock',
          status: 'pass',
          detail: `waited ${formatDuration(lock.waitedMs)} for ${lock.waitedFor}`,
          durationMs: performance.now() - lockStart,
        }
      : undefined;
    const { layout, wanted: requested } = seen;
    const fastOutput = at < 0 ? undefined : { output: all.slice(at + fast!.mark.length + 1), historyError };
    return {
      lock,
      layout,
      requested,
      history,
      historyWhere,
      historyText: text,
      lockResult,
      shared: split?.shared,
      fast: fastOutput,
    };
  } catch (error) {
    await lock.release();
    throw error;
  }
}

/**
 * Splits the lock script's output at history and parses it. After a one-script switch (the holder finished), a history
 * that does not parse is returned as historyError for the switch to report: `current` was already swapped.
 */
function readHistory(lock: HeldLock, mark: string, where: string) {
  try {
    return { ...splitHistory(lock.acquiredOutput, mark, where), historyError: undefined };
  } catch (error) {
    if (!lock.finished || !(error instanceof UserError)) throw error;
    const at = lock.acquiredOutput.indexOf(`${mark}\0`);
    return { before: lock.acquiredOutput.slice(0, at), history: [], text: '', historyError: error };
  }
}

/**
 * Switches (or rolls back) `current`, runs the hooks, rolls back on a failed after-switch hook, appends history and
 * prunes — all while holding the deploy lock of releases-root (see lock.ts), so two runs on the same target never
 * interleave. Without hooks that is two round trips: the lock holder's script (lock, read, check, history), and one
 * script through its open session (swap, history append, prune, release).
 */
export async function switchRelease(
  host: Target,
  config: SwitchConfig,
  context: Partial<CoreContext> = {},
): Promise<SwitchOutcome> {
  const full = coreContext(context);
  const { target, roundTrips } = countingTarget(host);
  const pattern = config.releasePattern ?? DEFAULT_RELEASE_PATTERN;
  if (config.mode === 'switch' && !config.release)
    throw new ArgumentError(
      'release',
      'is required when mode is switch; pass the release directory name, e.g. 20250102_030405-abcdef12',
    );
  const readStart = performance.now();
  // Shared links are made in the lock holder's first script, before the read (no extra round trip; see shared.ts).
  const shared = config.mode === 'switch' && config.shared?.entries.length ? config.shared : undefined;
  // A plain switch tries one script: the host swaps when history is what a runner accepted (see fast.ts).
  const plan = fastPlan(config, config.lockOwner ?? defaultLockOwner());
  const read = await lockAndRead(target, config, full, shared, plan);
  let outcome: LockedOutcome;
  try {
    outcome = await switchLocked(target, config, pattern, full, read, readStart, plan);
  } finally {
    await read.lock.release();
  }
  return { ...outcome, roundTrips: roundTrips() + read.lock.exchanges() };
}

/** What the steps of a locked switch share: the target, the settings, the lock, the log and the result rows. */
interface Locked {
  target: Target;
  config: SwitchConfig;
  pattern: string;
  lock: HeldLock;
  context: CoreContext;
  layout: ReleaseLayout;
  history: HistoryEntry[];
  /** history.jsonl's text as read under the lock (what `history` was parsed from). */
  historyText: string;
  /** After the one-script switch: history did not parse (LockedRead.fast). */
  fastHistoryError?: UserError;
  /** The release `current` goes to. */
  wanted: string;
  run: string;
  record: (result: CheckResult) => void;
  clean: (text: string) => string;
  /** Why the job stopped, once it was cancelled. */
  cancelled: () => string | undefined;
}

/** The Locked of a switch from what was read under the lock; rows go to `results`. */
function lockedStep(parts: {
  target: Target;
  config: SwitchConfig;
  pattern: string;
  context: CoreContext;
  read: LockedRead;
  wanted: string;
  results: CheckResult[];
}): Locked {
  const { config, context, read, results } = parts;
  const signal = config.signal;
  const { layout, lock, history, historyText } = read;
  return {
    ...{ target: parts.target, config, pattern: parts.pattern, lock, context, layout, history, historyText },
    wanted: parts.wanted,
    fastHistoryError: read.fast?.historyError,
    run: config.lockOwner ?? defaultLockOwner(),
    record: (result) => void results.push(result),
    clean: (text) => context.redactor.redact(text),
    cancelled: () =>
      signal?.aborted
        ? `the job was cancelled (${String((signal.reason as Error | undefined)?.message ?? 'aborted').replace(/^cancelled \((.*)\)$/, '$1')})`
        : undefined,
  };
}

async function switchLocked(
  target: Target,
  config: SwitchConfig,
  pattern: string,
  context: CoreContext,
  read: LockedRead,
  started: number,
  plan?: FastPlan,
): Promise<LockedOutcome> {
  const results: CheckResult[] = read.lockResult ? [read.lockResult] : [];
  const { layout } = read;
  const wanted = read.requested ?? rollbackTarget(target, read, matchingReleases(layout.releases, pattern));
  const step = lockedStep({ target, config, pattern, context, read, wanted, results });
  const currentNote = describeCurrent(layout);
  if (config.expectCurrent !== undefined && layout.current !== config.expectCurrent)
    throw new UserError(
      `current points to ${layout.current ?? layout.currentLink ?? 'nothing'}, not ${config.expectCurrent} that this run switched to: changed by someone else, left alone`,
    );
  step.record({
    name: 'release',
    status: 'pass',
    detail: `releases/${wanted} is a directory; current: ${currentNote}`,
    durationMs: performance.now() - started,
  });
  const outcome: LockedOutcome = {
    ok: true,
    currentRelease: layout.current,
    previousRelease: layout.current,
    switched: false,
    rolledBack: false,
    pruned: [],
    results,
    history: [],
  };
  if (wanted === layout.current) {
    step.record({
      name: 'switch',
      status: 'skip',
      detail: `current already points to releases/${wanted}; nothing to do`,
      durationMs: 0,
    });
    return outcome;
  }
  const where = { root: layout.root, release: wanted, target: target.description };
  const linked = read.shared && sharedResults(read.shared, where, performance.now() - started);
  if (linked) results.push(...linked.results);
  if (read.fast && plan) {
    // The host went on only when every shared entry was linked.
    const answer = parseFastAnswer(read.fast.output);
    if (answer.went) return fastSwitched(step, plan, answer.steps, outcome);
    context.logger.debug(`One-script switch not taken: ${fastRefusal(answer.why)}; switching in two steps`);
  }
  if (linked?.failure) return { ...outcome, ok: false, failure: linked.failure };
  const beforeFailure =
    (await runHooks(step, 'before-switch', config.beforeSwitch)) ??
    (step.cancelled() ? `${step.cancelled()} before the switch` : undefined);
  if (beforeFailure)
    return {
      ...outcome,
      ok: false,
      failure: `${beforeFailure}; current was not switched and still points to ${currentNote}`,
    };
  const swapped = await swapLocked(step, currentNote, outcome);
  if (config.afterSwitch.length === 0) return { ...outcome, pruned: swapped.pruned };
  const afterFailure =
    (await runHooks(step, 'after-switch', config.afterSwitch)) ??
    (step.cancelled() ? `${step.cancelled()} after the switch` : undefined);
  if (afterFailure) return { ...outcome, ...(await undoSwitch(step, afterFailure, outcome)) };
  if (config.mode === 'switch') outcome.pruned = await prune(step, outcome.history);
  return outcome;
}

/** `releases/<name>`, or what current is when it is not a release, for messages. */
function describeCurrent(layout: ReleaseLayout): string {
  if (layout.current) return `releases/${layout.current}`;
  return layout.currentLink ? `${layout.currentLink} (not a release)` : 'no current yet';
}

/**
 * The release a rollback without `release` goes to: the previous good release by history (rules.ts previousGood),
 * or, with no history yet, the newest release older than current by name.
 */
function rollbackTarget(target: Target, read: LockedRead, releases: readonly string[]): string {
  const { layout, history } = read;
  if (!layout.current) {
    throw new UserError(
      `Cannot roll back on ${target.description}: ${layout.root}/current ${layout.currentLink ? `points to ${layout.currentLink}, which is not a release` : 'does not exist'}; ` +
        'pass the release to go back to in "release"; nothing was changed',
    );
  }
  const choice = previousGood(history, releases, layout.current);
  if (choice.release) return choice.release;
  const passed = choice.skipped.length > 0 ? ` (passed over: ${choice.skipped.join(', ')})` : '';
  throw new UserError(
    choice.by === 'history'
      ? `Cannot roll back on ${target.description}: no release that was live before ${layout.current} is left that is not marked bad${passed}, by ${read.historyWhere}; pass the release to go back to in "release"; nothing was changed`
      : `Cannot roll back on ${target.description}: no release older than ${layout.current} in ${layout.releasesDir} that is not marked bad${passed}; nothing was changed`,
  );
}

/** Runs one phase's hook commands in the release directory, each one call into the Target; the failure, if any. */
async function runHooks(
  step: Locked,
  phase: 'before-switch' | 'after-switch',
  commands: readonly string[],
): Promise<string | undefined> {
  const { target, config, layout, wanted, clean, cancelled } = step;
  const releaseDir = `${layout.releasesDir}/${wanted}`;
  const env = [
    `DEPLOY_RELEASE=${shellQuote(wanted)}`,
    `DEPLOY_RELEASE_DIR=${shellQuote(releaseDir)}`,
    `DEPLOY_RELEASES_ROOT=${shellQuote(layout.root)}`,
    `DEPLOY_PREVIOUS_RELEASE=${shellQuote(layout.current ?? '')}`,
    'export DEPLOY_RELEASE DEPLOY_RELEASE_DIR DEPLOY_RELEASES_ROOT DEPLOY_PREVIOUS_RELEASE',
  ].join('; ');
  for (const command of commands) {
    const stop = cancelled();
    if (stop) return `${stop} before ${phase} command \`${command}\` ran`;
    const hookStart = performance.now();
    step.context.logger.info(clean(`${phase}: $ ${command}`));
    const result = await target.run(`${env}\n${command}`, {
      cwd: releaseDir,
      timeoutMs: config.hookTimeoutMs,
      outputTailBytes: HOOK_OUTPUT_TAIL_BYTES,
      signal: config.signal,
    });
    for (const line of `${result.stdout}${result.stderr}`.split('\n').filter((l) => l.trim() !== ''))
      step.context.logger.info(clean(`  │ ${line}`));
    const ok = result.exitCode === 0 && !result.cancelled;
    const detail = clean(hookDetail(result, ok, wanted, cancelled));
    step.record({
      name: `${phase}: ${command}`,
      status: ok ? 'pass' : 'fail',
      detail,
      durationMs: performance.now() - hookStart,
    });
    if (result.cancelled)
      return `${cancelled() ?? 'the job was cancelled'} during ${phase} command \`${command}\` (the command was stopped)`;
    if (!ok) return `${phase} command \`${command}\` failed (${detail})`;
  }
  return undefined;
}

function hookDetail(result: CommandResult, ok: boolean, wanted: string, cancelled: () => string | undefined): string {
  const tail = result.stderr.trim().split('\n').at(-1) || result.stdout.trim().split('\n').at(-1) || '';
  if (result.cancelled) return `stopped: ${cancelled() ?? 'the job was cancelled'}`;
  if (ok) return `exit 0 in releases/${wanted}`;
  if (result.timedOut) return `timed out after ${Math.round(result.durationMs)} ms`;
  return `exit ${result.exitCode}${tail ? `: ${tail}` : ''}`;
}

/** The history entries of moving current from layout.current to wanted (a rollback also records what it left). */
function switchEntries(step: Locked): HistoryEntry[] {
  const { config, layout, wanted, history, run } = step;
  const from = layout.current ?? null;
  const live = historyEntry(wanted, 'live', { run, from, sha: config.sha ?? knownSha(history, wanted) });
  if (config.mode !== 'rollback' || !layout.current) return [live];
  const leftSha = knownSha(history, layout.current);
  const left = historyEntry(layout.current, 'rolled-back', { run, from, sha: leftSha });
  if (!config.markLeftBad) return [left, live];
  return [left, historyEntry(layout.current, 'bad', { run, from, sha: leftSha }), live];
}

/** What pruning removes after current went to `wanted`, given history with this run's entries. */
function planPrune(step: Locked, history: readonly HistoryEntry[]) {
  const { config, pattern, layout, wanted } = step;
  const candidates = matchingReleases(layout.releases, pattern);
  const doomed = releasesToPrune({
    releases: candidates,
    keep: config.keep,
    current: wanted,
    history,
    protect: [layout.current],
  });
  return { candidates, doomed, others: layout.releases.length - candidates.length };
}

/** Removes releases under the lock's guard; never what current points to at that moment. */
function pruneStep(step: Locked, doomed: readonly string[]): Step {
  return {
    name: 'prune',
    optional: true,
    lines: [`cd -- ${shellQuote(step.layout.root)} || exit 3`, step.lock.guard, pruneLines(doomed)].join('\n'),
  };
}

/** Shell lines appending entries to history.jsonl under the lock's guard. */
function historyStep(step: Locked, entries: readonly HistoryEntry[]): Step {
  const lines = [`cd -- ${shellQuote(step.layout.root)} || exit 3`, step.lock.guard, historyAppendLines(entries)];
  return { name: 'history', lines: lines.join('\n') };
}

/**
 * Swaps current under the lock's guard, only if it is still the link read under the lock, and appends history in the
 * same script (refusing before the swap when history.jsonl cannot be written). With no after-switch hook, the same
 * script also prunes and is the holder's last: the lock is released in that round trip.
 */
async function swapLocked(step: Locked, currentNote: string, outcome: LockedOutcome): Promise<{ pruned: string[] }> {
  const { target, config, layout, wanted, lock, history } = step;
  const swapStart = performance.now();
  const entries = switchEntries(step);
  const last = config.afterSwitch.length === 0;
  const plan = last && config.mode === 'switch' ? planPrune(step, [...history, ...entries]) : undefined;
  const cd = `cd -- ${shellQuote(layout.root)} || exit 3`;
  const steps: Step[] = [
    { name: 'check', lines: [cd, lock.guard, historyWritableLines()].join('\n') },
    {
      name: 'swap',
      lines: swapScript(layout.root, wanted, { guard: lock.guard, expectLink: layout.currentLink ?? '' }),
    },
    historyStep(step, entries),
    // This run accepted history as read and appended its own lines: a later plain switch may take one script.
    {
      name: 'accepted',
      optional: true,
      lines: [
        cd,
        lock.guard,
        acceptedWriteLines(step.historyText + entries.map(formatHistoryLine).join(''), wanted),
      ].join('\n'),
    },
    ...(plan && plan.doomed.length > 0 ? [pruneStep(step, plan.doomed)] : []),
  ];
  const done = parseSteps((await lock.run(stepsScript(steps), { last })).stdout);
  const failed = (name: string) => stepFailure(done, name);
  const refused = failed('check') ?? failed('swap');
  if (refused)
    throw new UserError(
      `Switching current to releases/${wanted} failed on ${target.description} (exit ${refused.exitCode}): ${refused.stderr || 'no output'}; current still points to ${currentNote}`,
    );
  Object.assign(outcome, { switched: true, currentRelease: wanted });
  noteHistory(step, entries, failed('history'), outcome);
  step.record({
    name: config.mode === 'rollback' ? 'rollback current' : 'switch current',
    status: 'pass',
    detail: `${layout.current ? `releases/${layout.current}` : currentNote} → releases/${wanted} (atomic rename)`,
    durationMs: performance.now() - swapStart,
  });
  return { pruned: plan ? recordPrune(step, plan, done.get('prune'), performance.now() - swapStart) : [] };
}

/**
 * After the one-script switch (fast.ts): its rows and outcome from what its steps answered, the history it left
 * checked against this run's line and the marker's digest, then pruning (a second script, only when something is to
 * be removed). A check or swap that failed left the lock held and nothing changed: the step fails as swapLocked's does.
 */
async function fastSwitched(
  step: Locked,
  plan: FastPlan,
  steps: StepResults,
  outcome: LockedOutcome,
): Promise<LockedOutcome> {
  const { target, layout, wanted, lock } = step;
  const refused = stepFailure(steps, 'swap');
  if (refused)
    throw new UserError(
      `Switching current to releases/${wanted} failed on ${target.description} (exit ${refused.exitCode}): ${refused.stderr || 'no output'}; current still points to ${describeCurrent(layout)}`,
    );
  // The lock script released the lock and ended: wait for its end, so the session is free for what follows.
  await lock.release();
  Object.assign(outcome, { switched: true, currentRelease: wanted });
  step.record({
    name: 'switch current',
    status: 'pass',
    detail: `${describeCurrent(layout)} → releases/${wanted} (atomic rename, in the lock's script: ${ACCEPTED_FILE} vouched for history)`,
    durationMs: 0,
  });
  const digest = await checkFastHistory(step, { ...plan.entry, from: layout.current ?? null }, steps, outcome);
  if (outcome.ok) outcome.pruned = await fastPrune(step, digest);
  return outcome;
}

/**
 * Parses what the one-script switch left in history (the runner's one parse of it, after the swap): this run's line
 * must be its last, and the marker's new digest must be over exactly these bytes; returns that digest, else
 * undefined (the marker is then removed, so the next switch reads history first). A history that does not parse
 * here was vouched for by a marker rewritten with it: the step fails, naming the line.
 */
async function checkFastHistory(
  step: Locked,
  entry: HistoryEntry,
  steps: StepResults,
  outcome: LockedOutcome,
): Promise<string | undefined> {
  const { wanted, historyText, history } = step;
  const historyFailure = stepFailure(steps, 'history');
  if (historyFailure) {
    noteHistory(step, [entry], historyFailure, outcome);
    return undefined;
  }
  const error = step.fastHistoryError;
  const ours = error === undefined && historyText.endsWith(formatHistoryLine(entry));
  if (!ours) {
    const why = error
      ? error.message
      : `the line appended to ${HISTORY_FILE} is not the one this run built (${ACCEPTED_FILE} does not match history)`;
    await dropMarker(step);
    outcome.ok = false;
    outcome.failure = `${why}; current was switched to releases/${wanted} in one script, as ${ACCEPTED_FILE} vouched for history: both were rewritten together. The marker was removed: the next run reads history first and stops at such a line`;
    return undefined;
  }
  outcome.history.push(history.at(-1)!);
  const accepted = steps.get('accepted');
  if (accepted?.exitCode === 0 && accepted.stderr === acceptedDigest(historyText, wanted)) return accepted.stderr;
  step.context.logger.warning(
    `${ACCEPTED_FILE} could not be renewed over the history this run read (${accepted?.exitCode === 0 ? 'another digest' : accepted?.stderr || 'not written'}); the next switch reads history first`,
  );
  await dropMarker(step);
  return undefined;
}

/** Removes history.accepted (one round trip), so the next switch reads and parses history before it swaps. */
async function dropMarker(step: Locked): Promise<void> {
  const result = await step.target.run(`cd -- ${shellQuote(step.layout.root)} && rm -f -- ${ACCEPTED_FILE}`);
  if (result.exitCode !== 0)
    step.context.logger.warning(`Could not remove ${ACCEPTED_FILE}: ${result.stderr.trim()}; remove it by hand`);
}

/**
 * Pruning after a one-script switch, whose lock is already released: a new lock's script (one round trip, only when
 * something is to be removed) that prunes only while `current` and history are still as this run left them
 * (digest); else, or when another run holds the lock, the next switch prunes.
 */
async function fastPrune(step: Locked, digest: string | undefined): Promise<string[]> {
  const plan = planPrune(step, step.history);
  if (plan.doomed.length === 0) return recordPrune(step, plan, undefined, 0);
  const start = performance.now();
  const later = (why: string) =>
    recordPrune(step, plan, { exitCode: -1, stderr: `${why}; the next switch prunes` }, performance.now() - start);
  if (digest === undefined) return later('history could not be vouched for after the switch');
  let output: string;
  try {
    const lock = await acquireLock(
      step.target,
      step.config.releasesRoot,
      {
        timeoutMs: 0,
        owner: step.run,
        signal: step.config.signal,
        rootShell: shellPath(step.config.releasesRoot),
        whenAcquired: fastPruneLines(step.wanted, digest, plan.doomed),
        doneExit: FAST_DONE_EXIT,
      },
      step.context,
    );
    output = lock.acquiredOutput;
    await lock.release();
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return later('another run took the deploy lock');
  }
  if (nulFields(output)[0] === 'changed') return later('current or history changed since this switch');
  return recordPrune(
    step,
    plan,
    parseSteps(output).get('prune') ?? { exitCode: -1, stderr: 'no answer' },
    performance.now() - start,
  );
}

/** Adds entries to the outcome when they were written; otherwise a failed `history` row and a warning. */
function noteHistory(
  step: Locked,
  entries: readonly HistoryEntry[],
  failure: { exitCode: number; stderr: string } | undefined,
  outcome: LockedOutcome,
): void {
  if (!failure) {
    outcome.history.push(...entries);
    return;
  }
  const detail = step.clean(
    `not appended (${failure.stderr || `exit ${failure.exitCode}`}): ${entries.map((e) => `${e.outcome} ${e.release}`).join(', ')}`,
  );
  step.context.logger.warning(`Release history ${HISTORY_FILE} ${detail}`);
  step.record({ name: 'history', status: 'fail', detail, durationMs: 0 });
}

/** After a failed after-switch hook: switches back to the previous release when that is asked for and possible. */
async function undoSwitch(
  step: Locked,
  afterFailure: string,
  outcome: LockedOutcome,
): Promise<Partial<LockedOutcome> & { ok: false }> {
  const { target, config, layout, wanted, lock, clean, history, run } = step;
  const previous = layout.current;
  if (config.rollbackOnFailure === 'coordinated') return { ok: false, failure: afterFailure };
  if (!config.rollbackOnFailure)
    return {
      ok: false,
      failure: `${afterFailure}; rollback-on-failure is false, so current stays at releases/${wanted}`,
    };
  if (config.mode === 'rollback') {
    // Going "back" from a rollback would restore the release that was just rolled away from.
    return {
      ok: false,
      failure: `${afterFailure}; this was a rollback, so current stays at releases/${wanted} (not switched back to ${previous ?? 'the release it left'})`,
    };
  }
  if (!previous) {
    step.record({
      name: 'rollback on failure',
      status: 'fail',
      detail: 'there is no previous release to go back to',
      durationMs: 0,
    });
    return {
      ok: false,
      failure: `${afterFailure}; there was no previous release, so current stays at releases/${wanted}`,
    };
  }
  const backStart = performance.now();
  // The release whose after-switch hook failed is recorded rolled back and bad: a later rollback never lands on it.
  // A cancelled job proved nothing against the release: it is recorded rolled back only.
  const sha = config.sha ?? knownSha(history, wanted);
  const cancelledRun = step.cancelled() !== undefined;
  const entries = [
    historyEntry(wanted, 'rolled-back', { run, sha, from: wanted }),
    ...(cancelledRun ? [] : [historyEntry(wanted, 'bad', { run, sha, from: wanted })]),
    historyEntry(previous, 'live', { run, sha: knownSha(history, previous), from: wanted }),
  ];
  // Only the change this run made is undone: current must still be the link this run wrote.
  const swap = swapScript(layout.root, previous, { guard: lock.guard, expectLink: `releases/${wanted}` });
  const done = parseSteps(
    (await lock.run(stepsScript([{ name: 'swap', lines: swap }, historyStep(step, entries)]), { last: true })).stdout,
  );
  const back = done.get('swap') ?? { exitCode: -1, stderr: 'no answer' };
  if (back.exitCode !== 0) {
    const why = back.stderr.split('\n').at(-1) || `exit ${back.exitCode}`;
    step.record({
      name: 'rollback on failure',
      status: 'fail',
      detail: clean(`not rolled back: ${why}`),
      durationMs: performance.now() - backStart,
    });
    const now = await inspectReleases(target, config.releasesRoot).catch(() => undefined);
    return {
      ok: false,
      currentRelease: now?.current,
      failure: clean(`${afterFailure}; not rolled back (${why}), so current was left as it is`),
    };
  }
  const historyResult = done.get('history');
  noteHistory(
    step,
    entries,
    historyResult?.exitCode === 0 ? undefined : (historyResult ?? { exitCode: -1, stderr: 'no answer' }),
    outcome,
  );
  step.record({
    name: 'rollback on failure',
    status: 'pass',
    detail: `current back to releases/${previous}; releases/${wanted} recorded ${cancelledRun ? 'rolled back (not bad: the job was cancelled)' : 'bad'}`,
    durationMs: performance.now() - backStart,
  });
  return {
    ok: false,
    currentRelease: previous,
    rolledBack: true,
    failure: `${afterFailure}; rolled back: current points to releases/${previous} again`,
  };
}

/** Prunes after the after-switch hooks passed (the holder's last script); the removed releases. */
async function prune(step: Locked, written: readonly HistoryEntry[]): Promise<string[]> {
  const pruneStart = performance.now();
  const plan = planPrune(step, [...step.history, ...written]);
  if (plan.doomed.length === 0) return recordPrune(step, plan, undefined, 0);
  const done = parseSteps((await step.lock.run(stepsScript([pruneStep(step, plan.doomed)]), { last: true })).stdout);
  return recordPrune(
    step,
    plan,
    done.get('prune') ?? { exitCode: -1, stderr: 'no answer' },
    performance.now() - pruneStart,
  );
}

/** The prune row, from the plan and how its step went; the removed releases. */
function recordPrune(
  step: Locked,
  plan: ReturnType<typeof planPrune>,
  result: { exitCode: number; stderr: string } | undefined,
  durationMs: number,
): string[] {
  const { config, pattern, layout, clean } = step;
  const { candidates, doomed, others } = plan;
  const otherNote =
    others > 0
      ? `; ${others} other director${others === 1 ? 'y' : 'ies'} not matching ${pattern === DEFAULT_RELEASE_PATTERN ? 'the release naming' : `"${pattern}"`} left alone`
      : '';
  if (doomed.length === 0) {
    const detail = `${candidates.length} release(s), keep ${config.keep}: nothing to remove${otherNote}`;
    step.record({ name: 'prune', status: 'pass', detail, durationMs: 0 });
    return [];
  }
  if (result?.exitCode === 0) {
    const detail = `removed ${doomed.length}: ${doomed.join(', ')}; kept ${candidates.length - doomed.length}${otherNote}`;
    step.record({ name: 'prune', status: 'pass', detail, durationMs });
    return [...doomed];
  }
  // The switch itself succeeded: a full disk must be fixed, but it is no reason to roll back.
  const why = result?.stderr || 'no answer';
  step.context.logger.warning(clean(`Could not prune old releases in ${layout.releasesDir}: ${why}`));
  const detail = clean(`could not remove old releases: ${why.split('\n')[0] ?? ''}`);
  step.record({ name: 'prune', status: 'skip', detail, durationMs });
  return [];
}
