import { describe, expect, it } from '@jest/globals';
import {
  badReleases,
  formatHistoryLine,
  latestOutcomes,
  parseHistory,
  type HistoryEntry,
} from '#core/release/index.js';

const entry = (release: string, outcome: HistoryEntry['outcome'], from: string | null = null): HistoryEntry => ({
  v: 1,
  at: '2026-12-03T16:00:00.000Z',
  release,
  sha: null,
  run: 'host h, pid 1',
  outcome,
  from,
});

describe('release history (history.jsonl)', () => {
  it('round-trips lines and tells the latest outcome of each release', () => {
    const text = [entry('r4', 'live'), entry('r4', 'bad'), entry('r5', 'live', 'r4')].map(formatHistoryLine).join('');
    const history = parseHistory(text, 'history.jsonl');
    expect(history).toHaveLength(3);
    expect(latestOutcomes(history).get('r4')?.outcome).toBe('bad');
    expect([...badReleases(history)]).toEqual(['r4']);
  });

  it('a release made live again is no longer bad', () => {
    expect(badReleases([entry('r4', 'bad'), entry('r4', 'live')]).size).toBe(0);
  });

  it('refuses a line that is not an entry, naming the file and line, instead of skipping it', () => {
    const good = formatHistoryLine(entry('r1', 'live'));
    expect(() => parseHistory(`${good}{"v":1}\n`, '/srv/app/.deploy-gates/history.jsonl')).toThrow(
      /history\.jsonl line 2 is not a deploy-gates history entry/,
    );
    expect(() => parseHistory(`${good}not json\n`, 'h')).toThrow(/h line 2 is not JSON/);
    expect(() => parseHistory(formatHistoryLine(entry('r1', 'live')).replace('r1', '../r1'), 'h')).toThrow(/release/);
  });

  it('an empty history is no history', () => {
    expect(parseHistory('', 'h')).toEqual([]);
  });
});
