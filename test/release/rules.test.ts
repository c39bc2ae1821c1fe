import { describe, expect, it } from '@jest/globals';
import type { HistoryEntry } from '#core/release/history.js';
import { knownSha, lastLive, lastRolledBack, previousGood, releasesToPrune } from '#core/release/rules.js';

const [R1, R2, R3, R4, R5] = ['r1', 'r2', 'r3', 'r4', 'r5'];
let minute = 0;
const entry = (release: string, outcome: HistoryEntry['outcome'], from: string | null, sha: string | null = null) =>
  ({
    v: 1,
    at: new Date(Date.UTC(2026, 11, 3, 16, minute++)).toISOString(),
    release,
    sha,
    run: 'run acme/app#1/1',
    outcome,
    from,
  }) satisfies HistoryEntry;

describe('rollback by history', () => {
  it('the reported bug: 4 rolled back as bad, 5 deployed, a rollback of 5 goes to 3, not 4', () => {
    const history = [
      entry(R3, 'live', null),
      entry(R4, 'live', R3),
      entry(R4, 'rolled-back', R4),
      entry(R3, 'live', R4),
      entry(R4, 'bad', R3),
      entry(R5, 'live', R3),
    ];
    expect(previousGood(history, [R3, R4, R5], R5)).toEqual({ release: R3, by: 'history', skipped: [] });
  });

  it('counts a release as live before from the `from` of an entry (history that began after it)', () => {
    expect(lastLive([entry(R2, 'live', R1)])).toEqual(
      new Map([
        [R1, 0],
        [R2, 0],
      ]),
    );
    expect(previousGood([entry(R2, 'live', R1)], [R1, R2], R2).release).toBe(R1);
  });

  it('passes over bad and vanished releases, naming them, and never picks one that was never live', () => {
    const history = [entry(R1, 'live', null), entry(R2, 'live', R1), entry(R2, 'bad', R2), entry(R4, 'live', R2)];
    expect(previousGood(history, [R2, R3, R4], R4)).toEqual({
      by: 'history',
      skipped: [`${R2} (marked bad)`, `${R1} (no longer on the host)`],
    });
  });

  it('falls back to name order, skipping bad ones, when history knows nothing before current', () => {
    expect(previousGood([entry(R3, 'live', null)], [R1, R2, R3], R3)).toEqual({ release: R2, by: 'name', skipped: [] });
    const withBad = [entry(R3, 'live', null), entry(R2, 'bad', R3)];
    expect(previousGood(withBad, [R1, R2, R3], R3)).toEqual({ release: R1, by: 'name', skipped: [`${R2} (bad)`] });
  });

  it('a deliberate switch to a bad release clears the mark', () => {
    const history = [entry(R1, 'live', null), entry(R1, 'bad', R1), entry(R1, 'live', null), entry(R2, 'live', R1)];
    expect(previousGood(history, [R1, R2], R2).release).toBe(R1);
  });
});

describe('mark-bad default and SHAs', () => {
  it('marks the release most recently rolled back from', () => {
    expect(lastRolledBack([entry(R2, 'rolled-back', R2), entry(R3, 'live', R1), entry(R3, 'rolled-back', R3)])).toBe(
      R3,
    );
    expect(lastRolledBack([entry(R1, 'live', null)])).toBeUndefined();
  });

  it('takes a release SHA from its newest entry that has one', () => {
    const sha = 'a'.repeat(40);
    expect(knownSha([entry(R1, 'live', null, sha), entry(R1, 'rolled-back', R1)], R1)).toBe(sha);
    expect(knownSha([entry(R1, 'live', null, sha)], R2)).toBeNull();
  });
});

describe('pruning', () => {
  const names = [R1, R2, R3, R4, R5];

  it('never removes current, the previous good release or a release newer than current, even with keep 0', () => {
    const history = [entry(R1, 'live', null), entry(R2, 'live', R1)];
    expect(releasesToPrune({ releases: names, keep: 0, current: R2, history })).toEqual([]);
    const later = [...history, entry(R3, 'live', R2)];
    expect(releasesToPrune({ releases: names, keep: 0, current: R3, history: later })).toEqual([R1]);
  });

  it('keep counts good releases; bad ones do not count and go, unless newer than current', () => {
    const history = [
      entry(R1, 'live', null),
      entry(R2, 'live', R1),
      entry(R3, 'live', R2),
      entry(R3, 'bad', R3),
      entry(R4, 'live', R3),
    ];
    // keep 2: R4 (current) and R2 (previous good; R3 is bad); R3 goes, R1 is beyond keep; R5 is newer.
    expect(releasesToPrune({ releases: names, keep: 2, current: R4, history })).toEqual([R1, R3]);
    expect(releasesToPrune({ releases: names, keep: 3, current: R4, history })).toEqual([R3]);
    // After a rollback to R2, the bad R3 is newer than current: kept until a newer release is current (R1 is not).
    const rolled = [...history, entry(R4, 'rolled-back', R4), entry(R2, 'live', R4)];
    expect(releasesToPrune({ releases: names, keep: 0, current: R2, history: rolled })).toEqual([R1]);
  });

  it('keeps the release a switch replaced unless it is bad', () => {
    const history = [entry(R1, 'live', null), entry(R2, 'live', R1), entry(R2, 'bad', R2), entry(R4, 'live', R2)];
    expect(releasesToPrune({ releases: names, keep: 1, current: R4, history, protect: [R2] })).toEqual([R2, R3]);
  });
});
