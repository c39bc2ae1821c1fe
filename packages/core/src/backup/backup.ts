import { ArgumentError, UserError } from '../errors.js';
import { coreContext, type CoreContext } from '../context.js';
import { countingTarget, type Target } from '../hosts/target.js';
import type { CheckResult } from '../report/result.js';
import { credentialFile, describeConnection, type Connection, type Engine } from './connection.js';
import {
  backupId,
  backupsToPrune,
  checksumLines,
  MANIFEST_VERSION,
  type BackupFile,
  type Manifest,
} from './manifest.js';
import { clientProblem } from './problems.js';
import { backupScript, commitScript, requiredTools } from './scripts.js';
import { newMarker, openSession, resolveConnection, runRecords, type Records } from './session.js';

export interface BackupConfig {
  engine: Engine;
  releasesRoot: string;
  /** Relative to releasesRoot unless absolute or `~/…` (default `backups`). */
  backupsRoot: string;
  databaseUrl?: string;
  /** A Laravel .env on the target, relative to releasesRoot unless absolute. */
  envFile?: string;
  /** Files and directories to archive: relative ones under releasesRoot/current. */
  paths: readonly string[];
  label: string;
  keep: number;
  lockTimeoutMs: number;
  lockOwner?: string;
  /** The commit being deployed, and the run, for the manifest. */
  sha?: string;
  run?: string;
  /** Called with the password once known (from the env file), so the caller masks it everywhere. */
  onSecret?: (secret: string) => void;
  signal?: AbortSignal;
}

export interface BackupOutcome {
  ok: boolean;
  id?: string;
  /** The backup directory on the target, relative to releases-root or as given. */
  path?: string;
  manifest?: Manifest;
  database?: string;
  pruned: string[];
  results: CheckResult[];
  failure?: string;
  roundTrips: number;
}

const TOOL = 'deploy-gates db-backup';
/** 1980-01-01: every archived path carries this mtime (the archive is the same bytes for the same tree). */
export const ARCHIVE_MTIME = 315532800;

/** Takes a verified backup under the deploy lock; see scripts.ts for what runs on the host. */
export async function takeBackup(
  target: Target,
  config: BackupConfig,
  context: Partial<CoreContext> = {},
): Promise<BackupOutcome> {
  const ctx = coreContext(context);
  const { target: counted, roundTrips } = countingTarget(target);
  const started = ctx.now();
  const tools = requiredTools(config.engine, 'backup', config.paths.length > 0);
  const { lock, inspection } = await openSession(counted, config, tools, ctx);
  const results: CheckResult[] = [
    { name: 'deploy lock', status: 'pass', detail: `held on ${config.releasesRoot}`, durationMs: ctx.now() - started },
  ];
  try {
    const connection = resolveConnection(config.engine, config.databaseUrl, config.envFile, inspection);
    if (connection.password) config.onSecret?.(connection.password);
    ctx.redactor.add(connection.password);
    const createdEpoch = Math.floor(ctx.now() / 1000);
    const id = backupId(createdEpoch, config.label);
    const marker = newMarker();
    const dumpStarted = ctx.now();
    const spec = { ...config, root: config.releasesRoot, id, connection, guard: lock.guard, marker };
    const run = await runRecords(
      counted,
      backupScript({ ...spec, mtime: ARCHIVE_MTIME }),
      marker,
      credentialFile(connection),
      ctx,
      config.signal,
    );
    const dumped = judgeBackup(run, connection, target.description, config);
    results.push({
      name: 'dump verified',
      status: 'pass',
      detail: `${describeConnection(connection)}: ${dumped.files.map((f) => `${f.name} ${f.size} bytes`).join(', ')}; ${dumped.method}`,
      durationMs: ctx.now() - dumpStarted,
    });
    const manifest: Manifest = {
      version: MANIFEST_VERSION,
      id,
      engine: config.engine,
      database: connection.database,
      server: { address: describeConnection(connection), version: dumped.version },
      createdAt: new Date(createdEpoch * 1000).toISOString(),
      createdEpoch,
      durationMs: Math.round(ctx.now() - dumpStarted),
      verified: { ok: true, method: dumped.method },
      files: dumped.files,
      paths: [...config.paths],
      release: inspection.current,
      sha: config.sha,
      run: config.run,
      tool: TOOL,
    };
    const prune = backupsToPrune([...inspection.backups, id], config.keep, new Set(inspection.inUse));
    const pruned = await commit(counted, config, manifest, lock.guard, prune);
    results.push({ name: 'stored', status: 'pass', detail: `${id}, pruned ${pruned.length}`, durationMs: 0 });
    const path = `${config.backupsRoot.replace(/\/+$/, '')}/${id}`;
    return { ok: true, id, path, manifest, database: connection.database, pruned, results, roundTrips: roundTrips() };
  } catch (error) {
    if (!(error instanceof UserError) || error instanceof ArgumentError) throw error;
    results.push({ name: 'backup', status: 'fail', detail: error.message, durationMs: ctx.now() - started });
    return { ok: false, pruned: [], results, failure: error.message, roundTrips: roundTrips() };
  } finally {
    await lock.release();
  }
}

interface Dumped {
  files: BackupFile[];
  version: string;
  method: string;
}

/** Reads the dump script's records; a UserError naming the fix when it failed (the incoming directory is gone then). */
function judgeBackup(run: Records, connection: Connection, where: string, config: BackupConfig): Dumped {
  const { records, result } = run;
  const fail = records.find((record) => record[0] === 'fail');
  const stderr = result.stderr;
  if (result.cancelled) throw new UserError('The backup was cancelled; nothing was stored');
  if (fail) {
    const [, reason, detail] = fail;
    const messages: Record<string, string> = {
      dump: `${connection.engine === 'postgres' ? 'pg_dump' : 'mysqldump'} failed (exit ${detail}): ${clientProblem(stderr, connection, where)}`,
      write: `writing the dump into ${config.backupsRoot} failed (tee exit ${detail}); check the free space and permissions there`,
      empty: 'the dump is empty (0 bytes)',
      verify: `the dump did not verify (${detail === 'toc' ? 'pg_restore --list' : detail === 'header' || detail === 'trailer' ? `no mysqldump ${detail}: the dump is cut short` : 'pg_restore could not read it whole: it is truncated or corrupt'}): ${stderr.trim().slice(0, 300) || 'no message'}`,
      archive: `archiving paths failed: ${stderr.trim().slice(0, 300) || 'no message'}`,
      path: `path "${fail.slice(2).join(' ')}" does not exist on ${where} (relative paths are under releases-root/current)`,
      'backups-root': `cannot create ${config.backupsRoot} on ${where}; check that the deploy user may write there`,
    };
    throw new UserError(
      `Backup of ${describeConnection(connection)} on ${where}: ${messages[reason ?? ''] ?? `failed (${reason})`}. Nothing was stored as a backup`,
    );
  }
  if (result.exitCode !== 0 || !records.some((record) => record[0] === 'ok'))
    throw new UserError(
      `Backup on ${where} did not finish (exit ${result.exitCode}${result.timedOut ? ', timed out' : ''}): ${stderr.trim().slice(0, 300) || 'no message'}. Nothing was stored as a backup`,
    );
  const files = records
    .filter((record) => record[0] === 'file')
    .map(([, name, size, sha256]) => ({
      name: name!,
      role: name!.startsWith('database.') ? ('database' as const) : ('files' as const),
      size: Number(size),
      sha256: sha256!,
    }));
  const version =
    records
      .find((record) => record[0] === 'version')
      ?.slice(1)
      .join(' ') || 'unknown';
  const method =
    connection.engine === 'postgres'
      ? 'pg_restore read the whole archive while it was written; pg_restore --list read the stored file'
      : 'mysqldump header and "-- Dump completed" trailer present';
  return { files, version, method };
}

async function commit(
  target: Target,
  config: BackupConfig,
  manifest: Manifest,
  guard: string,
  prune: readonly string[],
): Promise<string[]> {
  const script = commitScript({
    root: config.releasesRoot,
    backupsRoot: config.backupsRoot,
    id: manifest.id,
    guard,
    sums: checksumLines(manifest.files),
    createdEpoch: manifest.createdEpoch,
    prune,
  });
  const result = await target.run(script, { stdin: `${JSON.stringify(manifest, null, 2)}\n` });
  if (result.exitCode !== 0)
    throw new UserError(
      `Storing backup ${manifest.id} on ${target.description} failed (exit ${result.exitCode}): ${result.stderr.trim() || 'no message'}`,
    );
  const fields = result.stdout.split('\0');
  return fields.flatMap((field, i) => (field === 'pruned' && fields[i + 1] ? [fields[i + 1]!] : []));
}
