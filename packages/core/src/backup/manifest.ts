import { z } from 'zod';
import { once } from '../lazy.js';
import { ENGINES } from './connection.js';

/**
 * A backup on the target: `<backups-root>/<YYYYMMDD_HHMMSS>-<label>/` holding the dump (`database.pgdump` or
 * `database.sql`), optionally `files.tar.gz` (the `paths`), `SHA256SUMS` (for `sha256sum -c` by hand) and
 * `manifest.json`. It is built in `.incoming-<id>` and renamed to its name only after it was verified, so a
 * directory with that name is a whole, verified backup; `created` holds its epoch seconds for the freshness gate.
 */
export const BACKUP_NAME = /^\d{8}_\d{6}-[A-Za-z0-9._-]{1,64}$/;
/** The same as a shell glob, for scripts on the host. */
export const BACKUP_GLOB = '[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]_[0-9][0-9][0-9][0-9][0-9][0-9]-*';
export const MANIFEST_VERSION = 1;
/** A restore in progress marks its backup with this file; pruning leaves such a backup alone. */
export const IN_USE_MARK = '.restoring';

const fileEntry = () =>
  z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/),
    role: z.enum(['database', 'files']),
    size: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  });
export type BackupFile = z.infer<ReturnType<typeof fileEntry>>;

/** Built on first use (see ../lazy.ts): a backup's manifest is read only when a backup is restored or pruned. */
export const manifestSchema = once(() =>
  z.strictObject({
    version: z.literal(MANIFEST_VERSION),
    id: z.string().regex(BACKUP_NAME),
    engine: z.enum(ENGINES),
    database: z.string().min(1),
    server: z.strictObject({ address: z.string(), version: z.string() }),
    createdAt: z.string(),
    createdEpoch: z.number().int().positive(),
    durationMs: z.number().nonnegative(),
    verified: z.strictObject({ ok: z.literal(true), method: z.string() }),
    files: z.array(fileEntry()).min(1),
    paths: z.array(z.string()),
    /** The release `current` pointed to when the backup was taken: the one the backup preceded the switch from. */
    release: z.string().optional(),
    sha: z.string().optional(),
    run: z.string().optional(),
    tool: z.string(),
  }),
);
export type Manifest = z.infer<ReturnType<typeof manifestSchema>>;

const pad = (n: number) => String(n).padStart(2, '0');

/** `YYYYMMDD_HHMMSS-label` in UTC. */
export function backupId(epochSeconds: number, label: string): string {
  const d = new Date(epochSeconds * 1000);
  const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}_${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
  return `${stamp}-${label}`;
}

/** Which backups pruning removes: all but the newest `keep` by name; never the newest, never one in use. */
export function backupsToPrune(names: readonly string[], keep: number, inUse: ReadonlySet<string>): string[] {
  const sorted = names.filter((name) => BACKUP_NAME.test(name)).sort();
  const newest = sorted.at(-1);
  const kept = new Set(sorted.slice(Math.max(0, sorted.length - Math.max(1, keep))));
  return sorted.filter((name) => !kept.has(name) && name !== newest && !inUse.has(name));
}

/** The manifest read from the host, checked; a reason when it is not one this version wrote. */
export function readManifest(text: string): { manifest: Manifest } | { problem: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { problem: 'manifest.json is not valid JSON' };
  }
  const parsed = manifestSchema().safeParse(data);
  if (!parsed.success)
    return {
      problem: `manifest.json is not a deploy-gates backup manifest (${parsed.error.issues
        .slice(0, 2)
        .map((issue) => `${issue.path.join('.') || 'document'}: ${issue.message}`)
        .join('; ')})`,
    };
  const problem = filesProblem(parsed.data);
  if (problem) return { problem: `manifest.json is not a deploy-gates backup manifest (files: ${problem})` };
  return { manifest: parsed.data };
}

/** The dump a backup of each engine holds: one file with role database, under this name (what backupScript writes). */
const DUMP_NAME: Record<Manifest['engine'], string> = { postgres: 'database.pgdump', mysql: 'database.sql' };

/** Why the manifest's files are not those of a backup this tool wrote (a restore reads exactly that dump). */
function filesProblem(manifest: Manifest): string | undefined {
  const dumps = manifest.files.filter((file) => file.role === 'database');
  const expected = DUMP_NAME[manifest.engine];
  if (dumps.length !== 1 || dumps[0]!.name !== expected)
    return `a ${manifest.engine} backup holds one database file named ${expected}, this one lists ${dumps.map((file) => file.name).join(', ') || 'none'}`;
  if (new Set(manifest.files.map((file) => file.name)).size !== manifest.files.length) return 'a file is listed twice';
  return undefined;
}

/** `SHA256SUMS` in the format `sha256sum -c` reads. */
export function checksumLines(files: readonly BackupFile[]): string {
  return files.map((file) => `${file.sha256}  ${file.name}\n`).join('');
}
