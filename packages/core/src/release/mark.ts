import { ArgumentError, UserError } from '../errors.js';
import { coreContext, type CoreContext } from '../context.js';
import type { CheckResult } from '../report/result.js';
import { countingTarget, nulFields, type Target } from '../hosts/target.js';
import { HISTORY_FILE, type HistoryEntry } from './history.js';
import { historyAppendLines, historyEntry, historyWritableLines } from './journal.js';
import { defaultLockOwner } from './lock.js';
import { knownSha, lastRolledBack } from './rules.js';
import { lockAndRead, type SwitchConfig } from './switch.js';

export type MarkBadConfig = Pick<
  SwitchConfig,
  'releasesRoot' | 'release' | 'lockTimeoutMs' | 'lockOwner' | 'signal' | 'sha'
>;

export interface MarkBadOutcome {
  ok: true;
  /** The release marked bad. */
  release: string;
  /** What `current` points to (unchanged by marking). */
  currentRelease?: string;
  history: HistoryEntry[];
  results: CheckResult[];
  roundTrips: number;
}

/**
 * `mode: mark-bad`: appends a `bad` entry for a release to history.jsonl under the deploy lock, so a rollback without
 * `release` never goes to it again (until it is switched to deliberately) and pruning removes it first. Without
 * `release`, it marks the release most recently rolled back from (history's newest `rolled-back` entry): what the
 * deploy workflow's rollback just left. Changes nothing else; two round trips (lock and read, then the append).
 */
export async function markBad(
  host: Target,
  config: MarkBadConfig,
  context: Partial<CoreContext> = {},
): Promise<MarkBadOutcome> {
  const full = coreContext(context);
  const { target, roundTrips } = countingTarget(host);
  const started = performance.now();
  const read = await lockAndRead(target, config, full);
  const { lock, layout, history } = read;
  try {
    const release = read.requested ?? lastRolledBack(history);
    if (release === undefined)
      throw new ArgumentError(
        'release',
        `is needed: ${read.historyWhere} records no rollback to take the release from; pass the release to mark bad, e.g. 20250102_030405-abcdef12; nothing was changed`,
      );
    const run = config.lockOwner ?? defaultLockOwner();
    const sha = config.release !== undefined && config.sha ? config.sha : knownSha(history, release);
    const entry = historyEntry(release, 'bad', { run, sha, from: layout.current ?? null });
    const result = await lock.run([historyWritableLines(), historyAppendLines([entry]), "printf 'ok\\0'"].join('\n'), {
      last: true,
    });
    if (result.exitCode !== 0 || nulFields(result.stdout)[0] !== 'ok')
      throw new UserError(
        `Marking releases/${release} bad failed on ${target.description}: ${result.stderr.trim() || `exit ${result.exitCode}`}; ${HISTORY_FILE} was not changed`,
      );
    const note = release === layout.current ? '; it is still current: roll back to leave it' : '';
    const results: CheckResult[] = [
      ...(read.lockResult ? [read.lockResult] : []),
      {
        name: 'mark bad',
        status: 'pass',
        detail: `releases/${release} recorded bad in ${HISTORY_FILE}${read.requested ? '' : ' (the release most recently rolled back from)'}${note}`,
        durationMs: performance.now() - started,
      },
    ];
    return {
      ok: true,
      release,
      currentRelease: layout.current,
      history: [entry],
      results,
      roundTrips: roundTrips() + lock.exchanges(),
    };
  } finally {
    await lock.release();
  }
}
