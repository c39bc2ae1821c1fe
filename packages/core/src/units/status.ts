/** A set of accepted HTTP status codes, written `200`, `200,204`, `2xx`, `200-299` or a mix of those. */
export interface StatusSpec {
  readonly text: string;
  matches(status: number): boolean;
}

const RANGE = /^([1-5])xx$|^(\d{3})-(\d{3})$|^(\d{3})$/i;

/** Parses a status spec; undefined when any part is not a code, a class (`2xx`) or a range. */
export function parseStatusSpec(text: string): StatusSpec | undefined {
  const parts = text
    .split(/[\s,]+/)
    .map((part) => part.trim())
    .filter(Boolean);
  if (parts.length === 0) return undefined;
  const ranges: [number, number][] = [];
  for (const part of parts) {
    const match = RANGE.exec(part);
    if (!match) return undefined;
    const [, klass, from, to, single] = match;
    if (klass) ranges.push([Number(klass) * 100, Number(klass) * 100 + 99]);
    else if (single) ranges.push([Number(single), Number(single)]);
    else if (Number(from) <= Number(to)) ranges.push([Number(from), Number(to)]);
    else return undefined;
  }
  if (ranges.some(([from, to]) => from < 100 || to > 599)) return undefined;
  return {
    text: parts.join(','),
    matches: (status) => ranges.some(([from, to]) => status >= from && status <= to),
  };
}
