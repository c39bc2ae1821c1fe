import { shellPath, shellQuote } from '../hosts/target.js';
import type { Connection, Engine } from './connection.js';
import { ENV_KEYS } from './connection.js';
import { BACKUP_GLOB, IN_USE_MARK } from './manifest.js';

/**
 * The POSIX shell scripts db-backup runs on the target. Each speaks on stdout in lines `<marker> <record> <fields…>`
 * (the marker is random per run, so no tool output or file on the host can forge a record); tool errors go to the
 * script's stderr. The password reaches a script only on its standard input, which it copies into a 0600 file in a
 * private temp dir (`umask 077; mktemp -d`) that a trap removes on every exit, a signal included.
 */

/** The tools an engine needs on the host, checked before the deploy lock is taken. */
export function requiredTools(engine: Engine, mode: 'backup' | 'restore', archive: boolean): string[][] {
  const client =
    engine === 'postgres'
      ? mode === 'backup'
        ? [['pg_dump'], ['pg_restore']]
        : [['pg_restore']]
      : mode === 'backup'
        ? [['mariadb-dump', 'mysqldump']]
        : [['mariadb', 'mysql']];
  const files = archive && mode === 'backup' ? [['tar'], ['gzip']] : [];
  return [...client, ['sha256sum'], ['tee'], ['mkfifo'], ['mktemp'], ...files];
}

/** Lines for LockOptions.precheck: prints `missing\0<tool>\0` and exits 0 when a tool is not on the host's PATH. */
export function toolsPrecheck(tools: readonly string[][]): string {
  return tools
    .map(
      (names) =>
        `{ ${names.map((name) => `command -v ${name} >/dev/null 2>&1`).join(' || ')}; } || { printf 'missing\\0%s\\0' ${shellQuote(names.join(' or '))}; exit 0; }`,
    )
    .join('\n');
}

const ENV_LINE = `^[[:space:]]*(export[[:space:]]+)?(${ENV_KEYS.join('|')})[[:space:]]*=`;

/**
 * Lines for LockOptions.whenAcquired (run in releases-root): where `current` points, the DB_* lines of the env file
 * (only those leave the host), the backups present and which are in use, and for a restore the chosen manifest.
 * Prints NUL-terminated records: `current <link>`, `env <lines>` or `noenv <why>`, `backups <names…> end`,
 * `inuse <names…> end`, `manifest <id> <text>` or `nobackup <why>`.
 */
export function inspectScript(backupsRoot: string, envFile: string | undefined, backupId?: string): string {
  const lines = [
    `b=${shellPath(backupsRoot)}`,
    `printf 'current\\0%s\\0' "$(readlink current 2>/dev/null)"`,
    `names() { [ -d "$b" ] && for n in "$b"/${BACKUP_GLOB}; do [ -d "$n" ] && [ -f "$n/manifest.json" ] && printf '%s\\0' "\${n##*/}"; done; }`,
    `printf 'backups\\0'; names; printf 'end\\0'`,
    `printf 'inuse\\0'; [ -d "$b" ] && for n in "$b"/${BACKUP_GLOB}; do [ -e "$n/${IN_USE_MARK}" ] && printf '%s\\0' "\${n##*/}"; done; printf 'end\\0'`,
  ];
  if (envFile !== undefined) {
    const file = shellPath(envFile.startsWith('-') ? `./${envFile}` : envFile);
    lines.push(
      `if [ ! -e ${file} ]; then printf 'noenv\\0missing\\0'`,
      `elif [ ! -r ${file} ] || [ -d ${file} ]; then printf 'noenv\\0unreadable\\0'`,
      `else printf 'env\\0'; grep -E ${shellQuote(ENV_LINE)} ${file} | head -c 65536 | tr -d '\\000'; printf '\\0'; fi`,
    );
  }
  if (backupId !== undefined) {
    const pick =
      backupId === 'latest' ? `id=$(names | tr '\\000' '\\n' | sort | tail -n 1)` : `id=${shellQuote(backupId)}`;
    lines.push(
      pick,
      'if [ -z "$id" ]; then printf \'nobackup\\0none\\0\'',
      `elif [ ! -f "$b/$id/manifest.json" ]; then printf 'nobackup\\0missing\\0%s\\0' "$id"`,
      `else printf 'manifest\\0%s\\0' "$id"; head -c 1048576 "$b/$id/manifest.json" | tr -d '\\000'; printf '\\0'; fi`,
    );
  }
  return lines.join('\n');
}

/** The start of every working script: into releases-root, the lock guard, the marker, the private temp dir. */
function preamble(root: string, guard: string, marker: string, cleanup: string): string[] {
  return [
    `cd -- ${shellPath(root)} || exit 3`,
    guard,
    `m=${marker}`,
    `say() { printf '%s %s\\n' "$m" "$*"; }`,
    'umask 077',
    'd=$(mktemp -d "${TMPDIR:-/tmp}/dg-db-XXXXXX") || { echo "cannot create a private temp dir in ${TMPDIR:-/tmp}" >&2; exit 7; }',
    `cleanup() { rm -rf -- "$d"; ${cleanup} }`,
    // EXIT runs the cleanup on every end; a signal exits, which runs it too.
    "trap 'cleanup' EXIT",
    "trap 'exit 143' HUP INT TERM",
    // The credential file, from stdin: 0600 by the umask, in a directory only this user can enter.
    'cat > "$d/cred" || exit 7',
  ];
}

/** ` PGSSLMODE=<mode>` when database-url asked for one (`?sslmode=require`), for an `export`/env prefix. */
function pgSslMode(connection: Connection): string {
  return connection.sslMode === undefined ? '' : ` PGSSLMODE=${shellQuote(connection.sslMode)}`;
}

/** Client options that name the server (never the password) for pg_dump, pg_restore. */
function pgArgs(connection: Connection): string {
  return `--no-password -h ${shellQuote(connection.host)} -p ${connection.port} -U ${shellQuote(connection.user)}`;
}

/** Runs `command` (stderr to $d/<name>.err, status to $d/<name>.rc) and tees its stdout to the stored file and fifos. */
function teeDump(command: string, out: string, fifos: string): string {
  return `{ ${command} 2> "$d/dump.err"; echo $? > "$d/dump.rc"; } | tee ${fifos} > ${out}; t=$?`;
}

export interface BackupScript {
  root: string;
  backupsRoot: string;
  id: string;
  connection: Connection;
  /** Paths to archive: relative ones are under releases-root/current, absolute ones as they are. */
  paths: readonly string[];
  guard: string;
  marker: string;
  /** The one mtime of every archive entry (epoch seconds). */
  mtime: number;
  /** How often the size written so far is logged (default 10 s; tests shorten it). */
  progressSeconds?: number;
}

/**
 * The dump, as one script: into `.incoming-<id>`, the stream hashed (sha256sum) and, for postgres, read whole by
 * `pg_restore -f /dev/null` while it is written (a truncated or unreadable archive fails there); then the stored file's
 * table of contents (`pg_restore --list`) or the SQL header and `-- Dump completed` trailer is checked. Records:
 * `log …`, `file <name> <size> <sha256>`, `version <text>`, `fail <reason>`; `ok` last. A failure removes the
 * incoming directory.
 */
export function backupScript(spec: BackupScript): string {
  const { root, backupsRoot, id, guard, marker } = spec;
  const inc = `"$b"/${shellQuote(`.incoming-${id}`)}`;
  const dumpFile = spec.connection.engine === 'postgres' ? 'database.pgdump' : 'database.sql';
  return [
    ...preamble(root, guard, marker, '[ -n "$p" ] && kill "$p" 2>/dev/null; [ -n "$done" ] || rm -rf -- "$inc";'),
    `b=${shellPath(backupsRoot)}`,
    `inc=${inc}`,
    'mkdir -p -- "$b" || { say fail backups-root; exit 0; }',
    // Under the lock, an incoming directory is what a run that died left behind.
    'rm -rf -- "$b"/.incoming-* "$b"/.pruning-*',
    'mkdir -- "$inc" || { say fail backups-root; exit 0; }',
    ...pathChecks(spec.paths),
    // Every value from an input or the host is one quoted word (a database may be named `x$(id)` or `my"db`).
    `say log dumping ${shellQuote(spec.connection.database)} into "$inc"`,
    // Progress while the dump runs (the size written so far). The file is named: dash does not glob a redirection.
    `( while sleep ${Number(spec.progressSeconds ?? 10)} </dev/null >/dev/null 2>&1; do say log "written $(wc -c < "$inc"/${dumpFile} 2>/dev/null | tr -d ' ') bytes"; done ) & p=$!`,
    ...(spec.connection.engine === 'postgres' ? pgDumpLines(spec.connection) : mysqlDumpLines(spec.connection)),
    'kill "$p" 2>/dev/null; p=',
    ...archiveLines(spec.paths, spec.mtime),
    'done=1',
    'say ok',
  ].join('\n');
}

function pathChecks(paths: readonly string[]): string[] {
  return paths.map(
    (path) =>
      `[ -e ${shellQuote(archiveWord(path).dir)}/${shellQuote(archiveWord(path).word)} ] || { say fail path ${shellQuote(path)}; exit 0; }`,
  );
}

/** Where tar starts (`-C`) and the `./…` word it archives, so no path can pass for an option. */
function archiveWord(path: string): { dir: string; word: string } {
  return path.startsWith('/') ? { dir: '/', word: `.${path}` } : { dir: 'current', word: `./${path}` };
}

/** What follows each dump: the exit statuses told apart, so the failure names the part that failed. */
const judgeDump = [
  'r=$(cat "$d/dump.rc" 2>/dev/null || echo 1)',
  'if [ "$r" != 0 ]; then say fail dump "$r"; tail -c 4000 "$d/dump.err" >&2; exit 0; fi',
  'if [ "$t" != 0 ]; then say fail write "$t"; exit 0; fi',
];

function pgDumpLines(connection: Connection): string[] {
  const out = '"$inc"/database.pgdump';
  return [
    `export PGPASSFILE="$d/cred" PGCONNECT_TIMEOUT=15${pgSslMode(connection)}`,
    'mkfifo "$d/h" "$d/v" || exit 7',
    'sha256sum < "$d/h" > "$d/sum" & hp=$!',
    'pg_restore -f /dev/null < "$d/v" 2> "$d/verify.err" & vp=$!',
    teeDump(`pg_dump -Fc ${pgArgs(connection)} -- ${shellQuote(connection.database)}`, out, '"$d/h" "$d/v"'),
    'wait "$hp"; wait "$vp"; v=$?',
    ...judgeDump,
    `s=$(wc -c < ${out} | tr -d ' ')`,
    `if [ "$s" = 0 ]; then say fail empty; exit 0; fi`,
    'if [ "$v" != 0 ]; then say fail verify "$v"; tail -c 4000 "$d/verify.err" >&2; exit 0; fi',
    // The stored file, read back: its table of contents, and the server version pg_dump recorded there.
    `pg_restore --list ${out} > "$d/toc" 2> "$d/verify.err" || { say fail verify toc; tail -c 4000 "$d/verify.err" >&2; exit 0; }`,
    `say version "$(sed -n 's/^;[[:space:]]*Dumped from database version:[[:space:]]*//p' "$d/toc" | head -n 1)"`,
    `say file database.pgdump "$s" "$(cut -d ' ' -f 1 "$d/sum")"`,
  ];
}

function mysqlDumpLines(connection: Connection): string[] {
  const out = '"$inc"/database.sql';
  return [
    'mkfifo "$d/h" || exit 7',
    'sha256sum < "$d/h" > "$d/sum" & hp=$!',
    'c=$(command -v mariadb-dump || command -v mysqldump)',
    teeDump(
      `"$c" --defaults-extra-file="$d/cred" --single-transaction --routines --triggers -- ${shellQuote(connection.database)}`,
      out,
      '"$d/h"',
    ),
    'wait "$hp"',
    ...judgeDump,
    `s=$(wc -c < ${out} | tr -d ' ')`,
    `if [ "$s" = 0 ]; then say fail empty; exit 0; fi`,
    // mysqldump writes its header first and `-- Dump completed` last: without the trailer the dump is cut short.
    // (MariaDB's dump may start with a `/*M!999999\- enable the sandbox mode */` line.)
    `head -n 3 ${out} | grep -Eq '^-- (MySQL|MariaDB) dump' || { say fail verify header; exit 0; }`,
    `tail -n 1 ${out} | grep -q '^-- Dump completed' || { say fail verify trailer; exit 0; }`,
    `say version "$(head -n 10 ${out} | sed -n 's/^-- Server version[[:space:]]*//p' | head -n 1)"`,
    `say file database.sql "$s" "$(cut -d ' ' -f 1 "$d/sum")"`,
  ];
}

/** `paths` as a deterministic tar.gz: sorted names, one mtime, numeric owner 0, no atime/ctime, gzip without name or time. */
function archiveLines(paths: readonly string[], mtime: number): string[] {
  if (paths.length === 0) return [];
  const groups = [...paths].sort().map((path) => {
    const { dir, word } = archiveWord(path);
    return `-C ${dir === 'current' ? '"$here"' : '/'} ${shellQuote(word)}`;
  });
  const out = '"$inc"/files.tar.gz';
  return [
    'here=$(pwd)/current',
    'say log "archiving paths"',
    `{ tar --sort=name --mtime=@${mtime} --owner=0 --group=0 --numeric-owner --format=gnu -cf - ${groups.join(' ')} 2> "$d/tar.err"; echo $? > "$d/tar.rc"; } | gzip -n > ${out}`,
    'if [ "$(cat "$d/tar.rc")" != 0 ]; then say fail archive; tail -c 4000 "$d/tar.err" >&2; exit 0; fi',
    `gzip -t ${out} || { say fail archive; exit 0; }`,
    `say file files.tar.gz "$(wc -c < ${out} | tr -d ' ')" "$(sha256sum < ${out} | cut -d ' ' -f 1)"`,
  ];
}

export interface CommitScript {
  root: string;
  backupsRoot: string;
  id: string;
  guard: string;
  sums: string;
  createdEpoch: number;
  prune: readonly string[];
}

/** Writes manifest.json (from stdin), SHA256SUMS and `created`, renames the backup into place, then prunes. */
export function commitScript({ root, backupsRoot, id, guard, sums, createdEpoch, prune }: CommitScript): string {
  return [
    `cd -- ${shellPath(root)} || exit 3`,
    guard,
    'umask 077',
    `b=${shellPath(backupsRoot)}`,
    `inc="$b"/${shellQuote(`.incoming-${id}`)}`,
    `n=${shellQuote(id)}`,
    `[ -d "$inc" ] || { echo "the backup being written ($inc) is gone" >&2; exit 8; }`,
    // A backup that cannot be stored whole is not left half-written.
    'fail() { rm -rf -- "$inc"; exit 8; }',
    '[ ! -e "$b/$n" ] || { echo "$b/$n exists already" >&2; fail; }',
    'cat > "$inc/manifest.json" || fail',
    `printf '%s' ${shellQuote(sums)} > "$inc/SHA256SUMS" && echo ${createdEpoch} > "$inc/created" || fail`,
    'mv -T -- "$inc" "$b/$n" || fail',
    ...prune.map(
      (name) =>
        `n=${shellQuote(name)}; [ -e "$b/$n"/${IN_USE_MARK} ] || { mv -T -- "$b/$n" "$b/.pruning-$n" && rm -rf -- "$b/.pruning-$n" && printf 'pruned\\0%s\\0' "$n"; }`,
    ),
  ].join('\n');
}

export interface RestoreScript {
  root: string;
  backupsRoot: string;
  id: string;
  connection: Connection;
  files: readonly { name: string; size: number; sha256: string }[];
  guard: string;
  marker: string;
  owner: string;
}

/**
 * The restore, as one script: the backup is marked in use (pruning skips it), every file's size and SHA-256 are
 * checked against the manifest first, and only then the database is restored. Records: `log …`, `fail <reason> …`,
 * `restoring` (the database is about to be written), `ok`.
 */
export function restoreScript(spec: RestoreScript): string {
  const { root, backupsRoot, id, guard, marker, connection } = spec;
  const dump = spec.files.find((file) => file.name.startsWith('database.'));
  // readManifest refuses a manifest without one; this guards any other caller.
  if (!dump) throw new Error('restoreScript needs a database.* file');
  const file = (name: string) => `"$k"/${shellQuote(name)}`;
  const restore =
    connection.engine === 'postgres'
      ? `PGPASSFILE="$d/cred" PGCONNECT_TIMEOUT=15${pgSslMode(connection)} pg_restore --clean --if-exists --single-transaction --exit-on-error ${pgArgs(connection)} -d ${shellQuote(connection.database)} ${file(dump.name)}`
      : `"$(command -v mariadb || command -v mysql)" --defaults-extra-file="$d/cred" -- ${shellQuote(connection.database)} < ${file(dump.name)}`;
  return [
    ...preamble(root, guard, marker, '[ -n "$k" ] && rm -f -- "$k"/' + IN_USE_MARK + ';'),
    `k=${shellPath(backupsRoot)}/${shellQuote(id)}`,
    `printf '%s\\n' ${shellQuote(spec.owner)} > "$k"/${IN_USE_MARK} || { say fail unwritable; exit 0; }`,
    ...spec.files.flatMap((entry) => {
      const name = shellQuote(entry.name);
      return [
        `s=$(wc -c < ${file(entry.name)} 2>/dev/null | tr -d ' ')`,
        `[ "$s" = ${Number(entry.size)} ] || { say fail size ${name} "\${s:-missing}"; exit 0; }`,
        `h=$(sha256sum < ${file(entry.name)} | cut -d ' ' -f 1)`,
        `[ "$h" = ${shellQuote(entry.sha256)} ] || { say fail checksum ${name} "$h"; exit 0; }`,
      ];
    }),
    `say log 'checksums match; restoring' ${shellQuote(id)} into ${shellQuote(connection.database)}`,
    'say restoring',
    `${restore} 2> "$d/restore.err" || { r=$?; say fail restore "$r"; tail -c 4000 "$d/restore.err" >&2; exit 0; }`,
    'say ok',
  ].join('\n');
}
