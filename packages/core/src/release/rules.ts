import { badReleases, type HistoryEntry } from './history.js';

/**
 * The decisions history drives: where a rollback without `release` goes, what `mark-bad` marks by default, and what
 * pruning may remove. Pure functions over the parsed history and the release names found on the host.
 */

/**
 * When each release was last live, as an index into history: an entry that made it live, or any entry whose `from`
 * names it (current pointed to it until then; this also covers releases that were live before history began).
 */
export function lastLive(history: readonly HistoryEntry[]): Map<string, number> {
  const seen = new Map<string, number>();
  history.forEach((entry, index) => {
    if (entry.from !== null) seen.set(entry.from, index);
    if (entry.outcome === 'live') seen.set(entry.release, index);
  });
  return seen;
}

export interface RollbackChoice {
  release?: string;
  /** How it was chosen: by history, or by name (no history yet). */
  by: 'history' | 'name';
  /** Releases passed over on the way, with why (for the message). */
  skipped: string[];
}

/**
 * The release a rollback without `release` goes to (the "previous good" release): the one most recently live before
 * current (by history order) that is not marked bad and still exists among `releases`. When history knows no release
 * live before current (no history yet, or only current's first switch), the newest release older than current by
 * name that is not marked bad (what the suite did before history existed).
 */
export function previousGood(
  history: readonly HistoryEntry[],
  releases: readonly string[],
  current: string | undefined,
): RollbackChoice {
  const bad = badReleases(history);
  const exists = new Set(releases);
  const skipped: string[] = [];
  const byRecency = [...lastLive(history)].sort((a, b) => b[1] - a[1]).map(([name]) => name);
  if (!byRecency.some((name) => name !== current)) {
    const older = [...releases].sort().filter((name) => current === undefined || name < current);
    for (const name of older.reverse()) {
      if (!bad.has(name)) return { release: name, by: 'name', skipped };
      skipped.push(`${name} (bad)`);
    }
    return { by: 'name', skipped };
  }
  for (const name of byRecency) {
    if (name === current) continue;
    if (bad.has(name)) skipped.push(`${name} (marked bad)`);
    else if (!exists.has(name)) skipped.push(`${name} (no longer on the host)`);
    else return { release: name, by: 'history', skipped };
  }
  return { by: 'history', skipped };
}

/** The release `mark-bad` marks when none is named: the one most recently rolled back from (undefined if none). */
export function lastRolledBack(history: readonly HistoryEntry[]): string | undefined {
  return history.findLast((entry) => entry.outcome === 'rolled-back')?.release;
}

/** The SHA history knows for a release (its newest entry that has one), else null. */
export function knownSha(history: readonly HistoryEntry[], release: string): string | null {
  return history.findLast((entry) => entry.release === release && entry.sha !== null)?.sha ?? null;
}

export interface PruneRules {
  /** Release names on the host (those matching the release pattern). */
  releases: readonly string[];
  keep: number;
  /** What `current` points to once the switch is done. */
  current: string | undefined;
  /** History including this run's entries. */
  history: readonly HistoryEntry[];
  /** Releases never removed besides current and the previous good (e.g. the release this run replaced). */
  protect?: readonly (string | undefined)[];
}

/**
 * Which releases pruning removes. Never: current, the previous good release (where a rollback would go), any release
 * newer than current by name (unpacked for a later switch, or rolled back from), or `protect` unless marked bad.
 * `keep` counts good releases: the newest `keep` releases not marked bad, by name, up to current, are kept (current
 * counts); releases marked bad never count and are removed unless one of the rules above protects them.
 */
export function releasesToPrune({ releases, keep, current, history, protect = [] }: PruneRules): string[] {
  const bad = badReleases(history);
  const kept = new Set<string>();
  if (current !== undefined) kept.add(current);
  const good = previousGood(history, releases, current).release;
  if (good !== undefined) kept.add(good);
  for (const name of protect) if (name !== undefined && !bad.has(name)) kept.add(name);
  const newestFirst = [...releases].sort().reverse();
  for (const name of newestFirst) if (current !== undefined && name > current) kept.add(name);
  const goodOnes = newestFirst.filter((name) => !bad.has(name) && (current === undefined || name <= current));
  for (const name of goodOnes.slice(0, keep)) kept.add(name);
  return newestFirst.filter((name) => !kept.has(name)).sort();
}
