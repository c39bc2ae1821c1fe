/** The one result model: every gate, probe or check of every action yields these. */
export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  durationMs: number;
}

export interface Tally {
  passed: number;
  failed: number;
  skipped: number;
  total: number;
}

export function tally(results: readonly CheckResult[]): Tally {
  const count = (status: CheckStatus) => results.filter((result) => result.status === status).length;
  return { passed: count('pass'), failed: count('fail'), skipped: count('skip'), total: results.length };
}

/** `Health checks: 3/3 PASSED`, or `Health checks: FAILED (1/3 passed, 2 failed)`. */
export function headline(title: string, results: readonly CheckResult[]): string {
  const { passed, failed, skipped, total } = tally(results);
  const counted = total - skipped;
  const skippedNote = skipped > 0 ? `, ${skipped} skipped` : '';
  if (failed === 0) return `${title}: ${passed}/${counted} PASSED${skippedNote}`;
  return `${title}: FAILED (${passed}/${counted} passed, ${failed} failed${skippedNote})`;
}

const ICON: Record<CheckStatus, string> = { pass: '✅', fail: '❌', skip: '⏭️' };

/** One log line per result: `✅ name: detail (12 ms)`. */
export function formatResultLine(result: CheckResult): string {
  return `${ICON[result.status]} ${result.name}: ${result.detail} (${Math.round(result.durationMs)} ms)`;
}

export function statusIcon(status: CheckStatus): string {
  return ICON[status];
}
