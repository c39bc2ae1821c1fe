/**
 * Splits a multi-line input into items: one per line, trimmed, blank lines and `#` comment lines dropped.
 * With `commas`, a line may also hold several comma-separated items (`200,204`).
 */
export function parseList(text: string, { commas = false }: { commas?: boolean } = {}): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .flatMap((line) => (commas ? line.split(',') : [line]))
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Splits `key<sep>value` at the first separator; undefined when there is none or the key is empty. */
export function splitPair(line: string, separator: string): [string, string] | undefined {
  const at = line.indexOf(separator);
  if (at <= 0) return undefined;
  const key = line.slice(0, at).trim();
  if (key === '') return undefined;
  return [key, line.slice(at + separator.length).trim()];
}

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

/** Parses the boolean spellings people use in YAML (`true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`). */
export function parseBoolean(text: string): boolean | undefined {
  const value = text.trim().toLowerCase();
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  return undefined;
}

/** What a line parser returns: the value, or the problem with that line (which should quote it). */
export type LineResult<T> = { value: T } | { problem: string };
