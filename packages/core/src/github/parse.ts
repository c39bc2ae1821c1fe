import type { LineResult } from '../units/lists.js';

/** A full commit SHA: 40 hex digits. */
export const FULL_SHA = /^[0-9a-f]{40}$/i;

/** `owner/name` (e.g. `octo-org/app`) as its two parts; undefined when it is not that. */
export function parseRepository(text: string): { owner: string; repo: string } | undefined {
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(text.trim());
  return match ? { owner: match[1]!, repo: match[2]! } : undefined;
}

export const repositoryProblem = (text: string) =>
  `"${text}" is not owner/name (letters, digits, ".", "_", "-" on each side of one "/"), e.g. octo-org/app`;

/** A full commit SHA, lower-cased; an abbreviated one is told as such, since that is the usual mistake. */
export function parseCommitSha(text: string): LineResult<string> {
  const sha = text.trim();
  if (FULL_SHA.test(sha)) return { value: sha.toLowerCase() };
  return {
    problem: /^[0-9a-f]{4,39}$/i.test(sha)
      ? `"${sha}" is an abbreviated SHA (${sha.length} characters); pass the full 40-character SHA, e.g. the output of git rev-parse HEAD`
      : `"${sha}" is not a commit SHA; pass the full 40-character SHA, e.g. 0123456789abcdef0123456789abcdef01234567`,
  };
}
