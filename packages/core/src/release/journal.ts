import { UserError } from '../errors.js';
import { shellQuote } from '../hosts/target.js';
import {
  formatHistoryLine,
  HISTORY_DIR,
  HISTORY_FILE,
  parseHistory,
  type HistoryEntry,
  type HistoryOutcome,
} from './history.js';

/**
 * Reading and appending history.jsonl on the host, inside the scripts a switch already runs (no round trip of its
 * own): the read rides on the script that takes the lock, the append on the script that swaps `current`.
 */

/** Shell lines (in releases-root) printing `<mark>\0<file|symlink>\0` and then history.jsonl's text, if any. */
export function historyReadLines(mark: string): string {
  return [
    `printf '%s\\0' ${mark}`,
    `if [ -L ${HISTORY_DIR} ] || [ -L ${HISTORY_FILE} ]; then printf 'symlink\\0'; else printf 'file\\0'; cat ${HISTORY_FILE} 2>/dev/null; fi`,
  ].join('\n');
}

/** Splits a script's output at the mark historyReadLines printed: what came before, and the parsed history. */
export function splitHistory(
  output: string,
  mark: string,
  where: string,
): { before: string; history: HistoryEntry[]; text: string } {
  const at = output.indexOf(`${mark}\0`);
  if (at < 0) return { before: output, history: [], text: '' };
  const rest = output.slice(at + mark.length + 1);
  if (rest.startsWith('symlink\0'))
    throw new UserError(
      `${where} (or its ${HISTORY_DIR} directory) is a symlink; deploy-gates reads and appends the release history only in a real file there. Nothing was changed: replace the link with the file it points to`,
    );
  const text = rest.replace(/^file\0/, '');
  return { before: output.slice(0, at), history: parseHistory(text, where), text };
}

/**
 * Shell lines that refuse (exit 9, before anything changes) unless history.jsonl can be appended to: a real file in
 * a real directory, created when missing.
 */
export function historyWritableLines(): string {
  return [
    `if [ -L ${HISTORY_DIR} ] || [ -L ${HISTORY_FILE} ]; then echo "${HISTORY_FILE} or ${HISTORY_DIR} is a symlink; not writing the release history through it" >&2; exit 9; fi`,
    `{ { [ -d ${HISTORY_DIR} ] || mkdir -p ${HISTORY_DIR}; } && : >> ${HISTORY_FILE}; } || { echo "cannot write ${HISTORY_FILE} in $(pwd)" >&2; exit 9; }`,
  ].join('\n');
}

/**
 * Shell lines (in releases-root) appending entries to history.jsonl; exit 9 when it cannot. A file whose last line
 * has no newline (an editor that drops it) first gets one, so the first entry does not join that line. The
 * one-script switch (fast.ts) appends without this look: it runs only on bytes a runner accepted, which end with one.
 */
export function historyAppendLines(entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return ':';
  const text = entries.map(formatHistoryLine).join('');
  const failed = `{ echo "appending to ${HISTORY_FILE} failed" >&2; exit 9; }`;
  return [
    `if [ -s ${HISTORY_FILE} ] && [ -n "$(tail -c 1 ${HISTORY_FILE})" ]; then printf '\\n' >> ${HISTORY_FILE} || ${failed}; fi`,
    `printf '%s' ${shellQuote(text)} >> ${HISTORY_FILE} || ${failed}`,
  ].join('\n');
}

/** A history entry made now (`run` is cut to the schema's 500 characters). */
export function historyEntry(
  release: string,
  outcome: HistoryOutcome,
  { run, sha = null, from = null }: { run: string; sha?: string | null; from?: string | null },
): HistoryEntry {
  return { v: 1, at: new Date().toISOString(), release, sha, run: run.slice(0, 500) || 'unknown', outcome, from };
}
