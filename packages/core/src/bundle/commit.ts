import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { once } from '../lazy.js';

// Made on first use: promisify looks at execFile, which would load node:child_process with the bundle (build.mjs).
const run = once(() => promisify(execFile));

/** `git` in `dir`, its trimmed output, or undefined when git is missing or fails (not a checkout, shallow, …). */
async function git(dir: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run()('git', ['-C', dir, ...args], { timeout: 10_000 });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The commit checked out in `dir` (HEAD). */
export function headCommit(dir: string): Promise<string | undefined> {
  return git(dir, ['rev-parse', 'HEAD']);
}

/** The committer time of `commit` in the repository at `dir`. */
export async function commitTime(dir: string, commit: string): Promise<Date | undefined> {
  const seconds = await git(dir, ['log', '-1', '--format=%ct', commit, '--']);
  return seconds && /^\d+$/.test(seconds) ? new Date(Number(seconds) * 1000) : undefined;
}

/** An mtime input: ISO 8601 (`2026-11-23T08:00:00Z`) or Unix seconds. */
export function parseMtime(text: string): Date | undefined {
  const trimmed = text.trim();
  const day = /^(\d{4})-(\d{2})-(\d{2})/.exec(trimmed);
  // JavaScript rolls 2026-02-30 over to March 2nd: a day its month does not have is no time.
  if (day && Number(day[3]) > new Date(Date.UTC(Number(day[1]), Number(day[2]), 0)).getUTCDate()) return undefined;
  const date = /^\d+$/.test(trimmed) ? new Date(Number(trimmed) * 1000) : day ? new Date(trimmed) : undefined;
  if (!date || Number.isNaN(date.getTime())) return undefined;
  // A tar header holds the seconds in 11 octal digits: 1970 up to 2242-03-16.
  return date.getTime() >= 0 && date.getTime() / 1000 <= MAX_TAR_SECONDS ? date : undefined;
}

const MAX_TAR_SECONDS = 8 ** 11 - 1;

/** The mtime when neither an input nor the commit gives one (reproducible-builds' usual floor, zip's epoch). */
export const FALLBACK_MTIME = new Date('1980-01-01T00:00:00Z');
