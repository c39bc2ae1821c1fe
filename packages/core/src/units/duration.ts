const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;

export const DURATION_HINT = 'use a number with a unit: 500ms, 5s, 2m or 1h';

/**
 * The longest wait or timeout an input may ask for. Node's timers hold at most 2^31-1 ms (about 596h): a longer one
 * fires at once, so a `1200h` timeout would cut every command short. A deploy step waits minutes, not days.
 */
export const MAX_WAIT_MS = 24 * 3_600_000;

/** Parses `500ms`, `5s`, `2m`, `1h` (also `1.5s`, and a bare `0`) into milliseconds; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (/^0+(?:\.0+)?$/.test(text.trim())) return 0; // no unit needed for nothing: `lock-timeout: 0`
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match as unknown as [string, string, keyof typeof UNIT_MS];
  return Math.round(Number(amount) * UNIT_MS[unit]);
}

/** Formats milliseconds the way people write them: `850ms`, `5s`, `1.5s`, `2m`, `1h30m`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1_000).toFixed(1))}s`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = Math.round((ms % 60_000) / 1_000);
  return [hours && `${hours}h`, minutes && `${minutes}m`, seconds && `${seconds}s`].filter(Boolean).join('') || '0s';
}
