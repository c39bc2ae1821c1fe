import { formatDuration } from '../units/duration.js';
import { shellPath, shellQuote } from '../hosts/target.js';
import { BACKUP_GLOB, readManifest } from './manifest.js';

/**
 * The `backup-fresh` gate: passes only when the newest backup of the database younger than max-age is whole — its
 * manifest was written (so it was verified before it counted), and every file still has the size and SHA-256 the
 * manifest records, hashed on the host now. Age is judged by the host's clock against the backup's `created` time.
 */
export interface FreshSpec {
  maxAgeMs: number;
  /** Relative to the release directory (default `../../backups`, i.e. `<releases-root>/backups`) or absolute. */
  backupsRoot: string;
  /** Only backups of this database count (default: any). */
  database?: string;
}

export const DEFAULT_GATE_BACKUPS_ROOT = '../../backups';

/** The read-only check script (run in the release directory); see judgeFresh for what it prints. */
export function freshScript(spec: FreshSpec): string {
  const maxAge = Math.ceil(spec.maxAgeMs / 1000);
  const root = spec.backupsRoot.startsWith('-') ? `./${spec.backupsRoot}` : spec.backupsRoot;
  const database =
    spec.database === undefined
      ? ''
      : `grep -qF ${shellQuote(`"database": ${JSON.stringify(spec.database)},`)} "$b/$n/manifest.json" || continue`;
  return [
    `b=${shellPath(root)}`,
    'now=$(date +%s); echo "now $now"',
    '[ -d "$b" ] || { echo nodir; exit 0; }',
    `cut=$((now - ${maxAge}))`,
    `for n in $(cd "$b" && for x in ${BACKUP_GLOB}; do case $x in *[!A-Za-z0-9._-]*) ;; *) [ -d "$x" ] && echo "$x";; esac; done | sort -r); do`,
    '  c=$(cat "$b/$n/created" 2>/dev/null); case $c in ""|*[!0-9]*) continue;; esac',
    '  [ -f "$b/$n/manifest.json" ] || continue',
    `  ${database || ':'}`,
    '  [ -n "$newest" ] || { newest=1; echo "newest $n $c"; }',
    '  [ "$c" -ge "$cut" ] || break',
    '  echo "candidate $n $c"',
    '  for f in "$b/$n"/database.* "$b/$n"/files.tar.gz; do [ -f "$f" ] && echo "sum ${f##*/} $(wc -c < "$f" | tr -d \' \') $(sha256sum < "$f" | cut -d \' \' -f 1)"; done',
    '  echo manifest; head -c 1048576 "$b/$n/manifest.json"; exit 0',
    'done',
  ].join('\n');
}

/** Judges what freshScript printed. */
export function judgeFresh(stdout: string, spec: FreshSpec): { pass: boolean; detail: string } {
  const lines = stdout.split('\n');
  const fields = (prefix: string) => lines.find((line) => line.startsWith(`${prefix} `))?.split(' ');
  const now = Number(fields('now')?.[1]);
  const of = spec.database ? ` of database "${spec.database}"` : '';
  const limit = `max-age ${formatDuration(spec.maxAgeMs)}`;
  if (lines.includes('nodir')) return { pass: false, detail: `no backups: ${spec.backupsRoot} does not exist` };
  const candidate = fields('candidate');
  if (!candidate) {
    const newest = fields('newest');
    return {
      pass: false,
      detail: newest
        ? `no backup${of} younger than ${limit}; the newest, ${newest[1]}, is ${formatDuration((now - Number(newest[2])) * 1000)} old — run db-backup`
        : `no backup${of} in ${spec.backupsRoot} — run db-backup`,
    };
  }
  const [, id, created] = candidate;
  const at = lines.indexOf('manifest');
  const read = readManifest(lines.slice(at + 1).join('\n'));
  if (at < 0 || 'problem' in read)
    return { pass: false, detail: `${id}: ${'problem' in read ? read.problem : 'no manifest'}` };
  const { manifest } = read;
  if (spec.database !== undefined && manifest.database !== spec.database)
    return { pass: false, detail: `${id}: a backup of "${manifest.database}", not "${spec.database}"` };
  if (manifest.id !== id || manifest.createdEpoch !== Number(created))
    return { pass: false, detail: `${id}: its manifest names ${manifest.id} (moved or copied by hand)` };
  for (const file of manifest.files) {
    const sum = fields(`sum ${file.name}`);
    if (!sum) return { pass: false, detail: `${id}: ${file.name} is missing` };
    if (Number(sum[2]) !== file.size || sum[3] !== file.sha256)
      return { pass: false, detail: `${id}: ${file.name} no longer matches its manifest (size or SHA-256 changed)` };
  }
  const age = formatDuration(Math.max(0, now - manifest.createdEpoch) * 1000);
  return {
    pass: true,
    detail: `${id}${of || ` of database "${manifest.database}"`}, ${age} old (${limit}), verified; SHA-256 of ${manifest.files.length} file(s) match`,
  };
}
