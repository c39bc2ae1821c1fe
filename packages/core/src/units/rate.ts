export const RATE_HINT = 'use a fraction from 0 to 1 (0.05) or a percentage from 0% to 100% (5%)';

/** A rate written as a fraction (`0.05`) or a percentage (`5%`), from 0 to 1; undefined when it is not one. */
export function parseRate(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(%?)$/.exec(text.trim());
  if (!match) return undefined;
  const value = match[2] ? Number(match[1]) / 100 : Number(match[1]);
  return value <= 1 ? value : undefined;
}

/** Why a text is not a rate, for an input error: `150%` is above 100%, `5` above 1, `abc` not a number. */
export function rateProblem(text: string): string {
  const match = /^(\d+(?:\.\d+)?)\s*(%?)$/.exec(text.trim());
  if (match?.[2]) return `"${text}" is more than 100%; ${RATE_HINT}`;
  if (match) return `"${text}" is more than 1 (a fraction of all requests); for ${text} percent write ${text}%`;
  return `"${text}" is not a rate; ${RATE_HINT}`;
}
