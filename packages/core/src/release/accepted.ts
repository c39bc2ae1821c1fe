import { createHash } from 'node:crypto';
import { shellQuote } from '../hosts/target.js';
import { HISTORY_DIR, HISTORY_FILE } from './history.js';

/**
 * `<releases-root>/.deploy-gates/history.accepted`: the runner's "unchanged since accepted" marker for history.jsonl,
 * which lets a plain switch run as one script (see fast.ts) without the host's shell judging history. Three lines:
 *
 *   <sha256, hex, of history.jsonl's bytes followed by lines 2 and 3>
 *   releases/<name>         what `current` pointed to when the marker was written
 *   "from":"<name>"         that name as the last member of the next switch's history line (JSON, built by the runner)
 *
 * Only the runner writes it: after it parsed history.jsonl and appended its own lines, it sends the digest of exactly
 * those bytes (or, on the one-script path, has the host hash them and checks the digest against the bytes it then
 * parses). The host only compares a digest with a digest and a link with a link; it never reads history's content.
 * Anyone who can write releases-root can rewrite history and marker together: the marker is no signature, it only
 * tells that nothing changed the file since a runner accepted it (a hand edit, a truncated write, a mark-bad).
 */
export const ACCEPTED_FILE = `${HISTORY_DIR}/history.accepted`;

/** Lines 2 and 3 of the marker for `current` pointing at releases/<release>. */
export function acceptedTail(release: string): string {
  return `releases/${release}\n"from":${JSON.stringify(release)}\n`;
}

/** The marker's digest: of history.jsonl's text (as read, UTF-8) followed by the tail. */
export function acceptedDigest(historyText: string, release: string): string {
  return createHash('sha256')
    .update(historyText + acceptedTail(release), 'utf8')
    .digest('hex');
}

/** Shell lines (in releases-root, after history was appended) writing the marker the runner computed; exit 1 when it cannot. */
export function acceptedWriteLines(historyText: string, release: string): string {
  const content = `${acceptedDigest(historyText, release)}\n${acceptedTail(release)}`;
  return `printf '%s' ${shellQuote(content)} > ${ACCEPTED_FILE} || exit 1`;
}

/**
 * Shell lines (in releases-root) deciding whether a switch to releases/<release> may go ahead without the runner:
 * they set `dg_why` to why not (empty: it may), and `dg_from` to the marker's third line. Refused when sha256sum is
 * missing, the marker or history is missing or a symlink, the digest differs (history or marker changed since a runner
 * accepted them), `current` is not the marker's link or that is not a real release directory, `current` already
 * points to the release, or the release is not a real directory under releases/.
 */
export function acceptedCheckLines(release: string): string {
  const wanted = shellQuote(`releases/${release}`);
  return [
    'dg_why=; dg_d=; dg_link=; dg_from=',
    'if ! command -v sha256sum >/dev/null 2>&1; then dg_why=no-sha256sum',
    `elif [ -L ${HISTORY_DIR} ] || [ -L ${HISTORY_FILE} ] || [ -L ${ACCEPTED_FILE} ] || [ ! -f ${HISTORY_FILE} ] || [ ! -f ${ACCEPTED_FILE} ]; then dg_why=no-marker`,
    'else',
    `  { IFS= read -r dg_d; IFS= read -r dg_link; IFS= read -r dg_from; } < ${ACCEPTED_FILE}`,
    `  dg_h=$( { cat ${HISTORY_FILE} && printf '%s\\n%s\\n' "$dg_link" "$dg_from"; } | sha256sum )`,
    '  if [ "${dg_h%% *}" != "$dg_d" ]; then dg_why=digest',
    '  elif [ "$(readlink current 2>/dev/null)" != "$dg_link" ] || [ ! -d "$dg_link" ] || [ -L "$dg_link" ]; then dg_why=current',
    `  elif [ "$dg_link" = ${wanted} ]; then dg_why=same`,
    `  elif [ ! -d ${wanted} ] || [ -L ${wanted} ]; then dg_why=release`,
    '  fi',
    'fi',
  ].join('\n');
}

/**
 * Shell lines (in releases-root, after the one-script path appended its line) writing the marker for releases/<release>,
 * hashed on the host over history.jsonl as it now is; the digest is printed on stderr for the runner to check.
 */
export function acceptedRehashLines(release: string): string {
  const tail = shellQuote(acceptedTail(release));
  return [
    `dg_n=$( { cat ${HISTORY_FILE} && printf '%s' ${tail}; } | sha256sum ) || exit 1`,
    `printf '%s\\n%s' "\${dg_n%% *}" ${tail} > ${ACCEPTED_FILE} || exit 1`,
    `printf '%s' "\${dg_n%% *}" >&2`,
  ].join('\n');
}
