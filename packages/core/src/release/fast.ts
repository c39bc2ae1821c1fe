import { randomBytes } from 'node:crypto';
import { nulFields, shellQuote } from '../hosts/target.js';
import { ACCEPTED_FILE, acceptedCheckLines, acceptedRehashLines, HASH_LINES } from './accepted.js';
import { formatHistoryLine, HISTORY_FILE, type HistoryEntry } from './history.js';
import { historyEntry, historyWritableLines } from './journal.js';
import { SHARED_ALL_LINKED } from './shared.js';
import { parseSteps, pruneLines, stepsScript, swapScript, type StepResults } from './steps.js';

/**
 * The one-script switch: a plain switch (mode switch, no hooks, `sha` given, a release named by its
 * directory name) takes the lock, reads releases-root and history, swaps `current`, appends its history line, renews
 * history.accepted and releases the lock in the script that takes the lock — one round trip — when the host finds
 * history.jsonl unchanged since a runner accepted it (accepted.ts). The host's shell compares a digest with a digest
 * and a link with a link; the history line is the runner's, but for its last member (`"from":…`), which the marker
 * holds as the runner that wrote it built it. Anything else (no or another digest, `current` moved, the release
 * missing) leaves the same script holding the lock, and the switch goes on as the two-step switch does.
 */

/** The exit of the lock script's `whenAcquired` when the one-script switch swapped (LockOptions.doneExit). */
export const FAST_DONE_EXIT = 42;

export interface FastPlan {
  /** Marks where the fast section's output starts. */
  mark: string;
  /** Shell lines run in releases-root under the lock, before the read: whether the host may go ahead (`dg_why`). */
  check: string;
  /**
   * A shell test (after check) that is true when the host goes ahead and `current` resolves to the marker's
   * `releases/<name>`: the runner then needs no link text (LockedRead reads `current` by where it resolves).
   */
  linkKnown: string;
  /** Shell lines run in releases-root under the lock, after the read (they set dg_done when they swapped). */
  lines: string;
  release: string;
  /** The line appended, but for `from`, which is what `current` pointed to (the marker's). */
  entry: HistoryEntry;
}

/** What the fast section printed: `went: false` with why, or the results of its steps. */
export type FastAnswer = { went: false; why: string } | { went: true; steps: StepResults };

/** Whether a switch may try one script: what the host cannot decide without the runner falls back. */
function eligible(config: FastConfig): config is FastConfig & { release: string; sha: string } {
  const { mode, release, sha, beforeSwitch, afterSwitch, expectCurrent } = config;
  if (mode !== 'switch' || !release || !sha || expectCurrent !== undefined) return false;
  return (
    beforeSwitch.length === 0 && afterSwitch.length === 0 && !/[/\n\r\0]/.test(release) && !/^\.\.?$/.test(release)
  );
}

export interface FastConfig {
  mode: string;
  release?: string;
  sha?: string | null;
  beforeSwitch: readonly string[];
  afterSwitch: readonly string[];
  expectCurrent?: string;
}

/** The fast section for a switch, or undefined when it must take the two-step path. */
export function fastPlan(config: FastConfig, run: string): FastPlan | undefined {
  if (!eligible(config)) return undefined;
  const { release } = config;
  const entry = historyEntry(release, 'live', { run, sha: config.sha, from: release });
  let line: string;
  try {
    line = formatHistoryLine(entry);
  } catch {
    return undefined; // a name history cannot hold: the two-step path says what is wrong
  }
  // formatHistoryLine writes the schema's keys in order, `from` last: the host adds that member from the marker.
  const member = `"from":${JSON.stringify(release)}}\n`;
  if (!line.endsWith(member)) return undefined;
  const prefix = line.slice(0, -member.length);
  const mark = `deploy-gates-fast-${randomBytes(6).toString('hex')}`;
  const steps = stepsScript([
    // One step (one fork): history must take the line before current moves (as the two-step switch's check).
    { name: 'swap', lines: `${historyWritableLines()}\n${swapScript('.', release, {})}` },
    {
      name: 'history',
      optional: true,
      lines: `printf '%s%s}\\n' ${shellQuote(prefix)} "$dg_from" >> ${HISTORY_FILE} || { echo "appending to ${HISTORY_FILE} failed" >&2; exit 9; }`,
    },
    // Only after this run's line was appended; the host hashes the file as it now is (the runner checks that digest).
    { name: 'accepted', optional: true, lines: `[ "$dg_c" = 0 ] || exit 1\n${acceptedRehashLines(release)}` },
  ]);
  const check = [
    acceptedCheckLines(release),
    // With shared entries, the linking before the read (shared.ts) must have linked every one of them.
    `[ -n "$dg_why" ] || [ "\${dg_shared:-${SHARED_ALL_LINKED}}" = ${SHARED_ALL_LINKED} ] || dg_why=shared`,
  ].join('\n');
  const lines = [
    `printf '%s\\0' ${mark}`,
    `if [ -n "$dg_why" ]; then printf 'no\\0%s\\0' "$dg_why"; else`,
    "printf 'go\\0'",
    steps,
    'dg_done=1',
    'fi',
  ].join('\n');
  return { mark, check, linkKnown: LINK_KNOWN, lines, release, entry };
}

/**
 * After the check: the host goes ahead and history.next names `releases/<name>` (one plain name: the read then lists
 * it, and `current` resolves to it). Other names, which a runner never writes, still get their `readlink`.
 */
const LINK_KNOWN =
  '{ [ -z "$dg_why" ] && case $dg_link in releases/ | releases/. | releases/.. | releases/*/* | releases/*[!A-Za-z0-9._-]*) false ;; releases/*) true ;; *) false ;; esac; }';

/** Reads the fast section's output (after its mark). */
export function parseFastAnswer(output: string): FastAnswer {
  const fields = nulFields(output);
  if (fields[0] !== 'go') return { went: false, why: fields[1] ?? 'no answer' };
  return { went: true, steps: parseSteps(output.slice('go\0'.length)) };
}

/** Why the host did not take the one-script path, for the debug log. */
export function fastRefusal(why: string): string {
  const reasons: Record<string, string> = {
    'no-sha256sum': 'the host has no sha256sum',
    'no-marker': `there is no ${ACCEPTED_FILE} (first switch, or written by an older version)`,
    digest: `${HISTORY_FILE} changed since a runner accepted it (a mark-bad, a failed hook's rollback, a hand edit)`,
    current: 'current does not resolve to the release the marker names (moved by someone else)',
    same: 'current already points to the release',
    release: 'the release is not a directory under releases/',
    shared: 'a shared entry was not linked',
  };
  return reasons[why] ?? why;
}

/**
 * The script pruning after a one-script switch (run as a new lock's whenAcquired, ending it): only while `current`
 * still points to the release switched to and history is still what this run accepted (digest), else it prints
 * `changed` and removes nothing. Prints the prune step's result.
 */
export function fastPruneLines(release: string, digest: string, doomed: readonly string[]): string {
  return [
    `if ! { ${HASH_LINES}; } || [ "$1 $3" != ${shellQuote(digest)} ] || [ "$(readlink current 2>/dev/null)" != ${shellQuote(`releases/${release}`)} ]; then printf 'changed\\0'; exit ${FAST_DONE_EXIT}; fi`,
    stepsScript([{ name: 'prune', optional: true, lines: pruneLines(doomed) }]),
    `exit ${FAST_DONE_EXIT}`,
  ].join('\n');
}
