import { z } from 'zod';
import { UserError } from '../errors.js';
import { once } from '../lazy.js';

/**
 * The release history of a releases-root: `<releases-root>/.deploy-gates/history.jsonl`, one JSON object per line,
 * appended (never rewritten) under the deploy lock by every switch, rollback and mark-bad. It is what a rollback
 * without `release` and pruning decide by, and what the `releases` action lists.
 *
 * A line is written by deploy-gates only, but the file lives on the host: it is parsed strictly, and a line that does
 * not parse is an error naming the file and the line, never skipped (a forged or truncated history must not silently
 * change which release a rollback picks).
 */
export const HISTORY_DIR = '.deploy-gates';
export const HISTORY_FILE = `${HISTORY_DIR}/history.jsonl`;

/**
 * What happened to a release:
 * - `live`: `current` was pointed at it (a switch, or a rollback landing on it);
 * - `rolled-back`: `current` was moved away from it by a rollback (it was live and is not any more);
 * - `bad`: marked bad (`mode: mark-bad`, or the deploy workflow after its health or smoke failed); a rollback without
 *   `release` never goes to it again.
 */
export const HISTORY_OUTCOMES = ['live', 'rolled-back', 'bad'] as const;
export type HistoryOutcome = (typeof HISTORY_OUTCOMES)[number];

const releaseName = () =>
  z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^/\0\n\r]+$/, 'a directory name under releases/')
    .refine((name) => name !== '.' && name !== '..', 'a directory name under releases/');

// Built on first use (core/lazy.ts): a step that stops before it reads or writes history never needs it.
export const historyEntrySchema = once(() =>
  z
    .object({
      /** Format version of the line. */
      v: z.literal(1),
      /** When it happened, ISO 8601 UTC (`2026-12-03T16:00:00.000Z`). */
      at: z.string().datetime(),
      release: releaseName(),
      /** The commit the release was built from, where known (40 hex), else null. */
      sha: z
        .string()
        .regex(/^[0-9a-f]{40}$/)
        .nullable(),
      /** Who did it: the run label (`run o/r#123/1 (Deploy / deploy), host h, pid 1`) or `host h, pid 1` from the CLI. */
      run: z.string().min(1).max(500),
      outcome: z.enum(HISTORY_OUTCOMES),
      /** What `current` pointed to before this entry (a switch's or rollback's previous release), else null. */
      from: releaseName().nullable(),
    })
    .strict(),
);
export type HistoryEntry = z.infer<ReturnType<typeof historyEntrySchema>>;

/** One line of history.jsonl for an entry (validated first: a bad entry is a programming error, not written). */
export function formatHistoryLine(entry: HistoryEntry): string {
  return `${JSON.stringify(historyEntrySchema().parse(entry))}\n`;
}

/**
 * Parses history.jsonl's text (empty or missing file: no history). `where` names the file in errors, e.g.
 * `/var/www/app/.deploy-gates/history.jsonl on ssh://deploy@web1`.
 */
export function parseHistory(text: string, where: string): HistoryEntry[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line, index) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new UserError(`${where} line ${index + 1} is not JSON: ${JSON.stringify(line.slice(0, 80))}`);
    }
    const parsed = historyEntrySchema().safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UserError(
        `${where} line ${index + 1} is not a deploy-gates history entry (${issue?.path.join('.') || 'line'}: ${issue?.message})`,
      );
    }
    return parsed.data;
  });
}

/** Each release's latest outcome, in the order the history saw them. */
export function latestOutcomes(history: readonly HistoryEntry[]): Map<string, HistoryEntry> {
  const latest = new Map<string, HistoryEntry>();
  for (const entry of history) {
    latest.delete(entry.release);
    latest.set(entry.release, entry);
  }
  return latest;
}

/** Releases marked bad at any time and not made live again since (a deliberate switch to a bad release clears it). */
export function badReleases(history: readonly HistoryEntry[]): Set<string> {
  const bad = new Set<string>();
  for (const entry of history) {
    if (entry.outcome === 'bad') bad.add(entry.release);
    else if (entry.outcome === 'live') bad.delete(entry.release);
  }
  return bad;
}
