import { createHash } from 'node:crypto';
import { shellQuote } from '../hosts/target.js';
import { HISTORY_DIR, HISTORY_FILE } from './history.js';

/**
 * The runner's "unchanged since accepted" marker for history.jsonl, which lets a plain switch run as one script (see
 * fast.ts) without the host's shell judging history. Two files in `<releases-root>/.deploy-gates/`:
 *
 *   history.next       `releases/<name>` (what `current` pointed to when the marker was written) and the line
 *                      `"from":"<name>"` (that name as the last member of the next switch's history line, JSON)
 *   history.accepted   `<sha256 of history.jsonl> <sha256 of history.next>` (hex)
 *
 * Only the runner writes them: after it parsed history.jsonl and appended its own lines, it sends the digests of
 * exactly those bytes (or, on the one-script path, has the host hash them and checks them against the bytes it then
 * parses). The host compares digests with digests and the directory `current` resolves to with the one the marker
 * names; it never reads history's content. Anyone who can write releases-root can rewrite history and marker
 * together: the marker is no signature, it only tells that nothing changed either file since a runner accepted them
 * (a hand edit, a truncated write, a mark-bad, a failed hook's rollback).
 */
export const ACCEPTED_FILE = `${HISTORY_DIR}/history.accepted`;
export const NEXT_FILE = `${HISTORY_DIR}/history.next`;

/** history.next for `current` pointing at releases/<release>. */
export function acceptedNext(release: string): string {
  return `releases/${release}\n"from":${JSON.stringify(release)}\n`;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** history.accepted's content (without its newline): the digests of history.jsonl's text (as read, UTF-8) and of history.next. */
export function acceptedDigest(historyText: string, release: string): string {
  return `${sha256(historyText)} ${sha256(acceptedNext(release))}`;
}

/** Shell lines (in releases-root, after history was appended) writing the marker the runner computed; exit 1 when it cannot. */
export function acceptedWriteLines(historyText: string, release: string): string {
  return [
    NO_LINKED_MARKER,
    `printf '%s' ${shellQuote(acceptedNext(release))} > ${NEXT_FILE} || exit 1`,
    `printf '%s\\n' ${shellQuote(acceptedDigest(historyText, release))} > ${ACCEPTED_FILE} || exit 1`,
  ].join('\n');
}

/**
 * The marker files are never written through a symlink (as history.jsonl is not): whoever could place one in
 * .deploy-gates would make every switch overwrite the file it points to (`~/.ssh/authorized_keys`, `shared/.env`).
 */
const NO_LINKED_MARKER = `if [ -L ${NEXT_FILE} ] || [ -L ${ACCEPTED_FILE} ]; then echo "${NEXT_FILE} or ${ACCEPTED_FILE} is a symlink; not writing through it" >&2; exit 1; fi`;

/** Shell lines hashing history.jsonl and history.next into `$1 $3` (one sha256sum, no pipe); false when it fails. */
export const HASH_LINES = `dg_n=$(sha256sum ${HISTORY_FILE} ${NEXT_FILE}) && set -- $dg_n`;

/**
 * Shell lines (in releases-root) deciding whether a switch to releases/<release> may go ahead without the runner:
 * they set `dg_why` to why not (empty: it may), and `dg_from` to history.next's second line. Refused when sha256sum
 * is missing, a marker file or history is missing or a symlink, a digest differs (history or history.next changed
 * since a runner accepted them), `current` does not resolve to the real release directory history.next names, that
 * is the release asked for, or the release is not a real directory under releases/.
 */
export function acceptedCheckLines(release: string): string {
  const wanted = shellQuote(`releases/${release}`);
  const files = [HISTORY_DIR, HISTORY_FILE, ACCEPTED_FILE, NEXT_FILE];
  return [
    'dg_why=; dg_d=; dg_link=; dg_from=',
    'if ! command -v sha256sum >/dev/null 2>&1; then dg_why=no-sha256sum',
    `elif ${files.map((file) => `[ -L ${file} ]`).join(' || ')} || ${files
      .slice(1)
      .map((file) => `[ ! -f ${file} ]`)
      .join(' || ')}; then dg_why=no-marker`,
    'else',
    `  { IFS= read -r dg_d; } < ${ACCEPTED_FILE}; { IFS= read -r dg_link; IFS= read -r dg_from; } < ${NEXT_FILE}`,
    `  if ! { ${HASH_LINES}; } || [ "$1 $3" != "$dg_d" ]; then dg_why=digest`,
    // -ef (same directory; dash, bash, BusyBox): where `[` lacks it, the test fails and the switch takes two steps.
    '  elif ! [ current -ef "$dg_link" ] || [ -L "$dg_link" ] || [ ! -d "$dg_link" ]; then dg_why=current',
    `  elif [ "$dg_link" = ${wanted} ] || [ current -ef ${wanted} ]; then dg_why=same`,
    `  elif [ ! -d ${wanted} ] || [ -L ${wanted} ]; then dg_why=release`,
    '  fi',
    'fi',
  ].join('\n');
}

/**
 * Shell lines (in releases-root, after the one-script path appended its line) writing the marker for releases/<release>,
 * hashed on the host over history.jsonl as it now is; the digests are printed on stderr for the runner to check.
 */
export function acceptedRehashLines(release: string): string {
  return [
    NO_LINKED_MARKER,
    `printf '%s' ${shellQuote(acceptedNext(release))} > ${NEXT_FILE} || exit 1`,
    `${HASH_LINES} || exit 1`,
    `printf '%s %s\\n' "$1" "$3" > ${ACCEPTED_FILE} || exit 1`,
    `printf '%s %s' "$1" "$3" >&2`,
  ].join('\n');
}
