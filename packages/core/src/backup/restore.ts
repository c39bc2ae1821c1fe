import { ArgumentError, UserError } from '../errors.js';
import { coreContext, type CoreContext } from '../context.js';
import { countingTarget, type CommandResult, type Target } from '../hosts/target.js';
import type { CheckResult } from '../report/result.js';
import { credentialFile, describeConnection, type Connection, type Engine } from './connection.js';
import { BACKUP_NAME, readManifest, type Manifest } from './manifest.js';
import { clientProblem } from './problems.js';
import { requiredTools, restoreScript } from './scripts.js';
import { newMarker, openSession, resolveConnection, runRecords, type Inspection } from './session.js';
import type { BackupOutcome } from './backup.js';

export interface RestoreConfig {
  engine: Engine;
  releasesRoot: string;
  backupsRoot: string;
  databaseUrl?: string;
  envFile?: string;
  /** A backup's id (its directory name) or `latest`. */
  backupId: string;
  lockTimeoutMs: number;
  lockOwner?: string;
  onSecret?: (secret: string) => void;
  signal?: AbortSignal;
}

/** The manifest of the backup to restore, checked against the engine; a UserError naming the fix otherwise. */
function chosenManifest(inspection: Inspection, config: RestoreConfig, where: string): Manifest {
  const found = inspection.manifest;
  if (!found || 'problem' in found) {
    const listing = inspection.backups.length > 0 ? `; there are: ${inspection.backups.slice(-5).join(', ')}` : '';
    throw new ArgumentError(
      'backupId',
      found?.problem === 'missing'
        ? `no backup "${found.id}" in ${config.backupsRoot} on ${where}${listing}`
        : `there is no backup in ${config.backupsRoot} on ${where} to restore`,
    );
  }
  const read = readManifest(found.text);
  if ('problem' in read)
    throw new UserError(`Backup ${found.id} on ${where} cannot be restored: ${read.problem}. Nothing was restored`);
  const { manifest } = read;
  if (manifest.id !== found.id)
    throw new UserError(
      `Backup ${found.id} on ${where} holds the manifest of ${manifest.id} (moved or copied by hand); nothing was restored`,
    );
  if (manifest.engine !== config.engine)
    throw new UserError(
      `Backup ${found.id} is a ${manifest.engine} backup but engine is ${config.engine}; nothing was restored`,
    );
  return manifest;
}

/** Throws a UserError naming what failed when the restore script did not end with `ok`. */
function restoreFailure(
  records: string[][],
  result: CommandResult,
  manifest: Manifest,
  connection: Connection,
  where: string,
): void {
  const fail = records.find((record) => record[0] === 'fail');
  if (fail) {
    const [, reason, name, found] = fail;
    const messages: Record<string, string> = {
      size: `${name} is ${found} bytes, the manifest says ${manifest.files.find((f) => f.name === name)?.size} (truncated or replaced); nothing was restored`,
      checksum: `the SHA-256 of ${name} does not match its manifest (changed since it was verified); nothing was restored`,
      unwritable: `cannot mark ${manifest.id} in use (is the backups root writable?); nothing was restored`,
      restore: `the restore failed (exit ${name}): ${clientProblem(result.stderr, connection, where)}${connection.engine === 'postgres' ? '; in a single transaction, so the database is as it was' : '; the database may be partly restored — restore again'}`,
    };
    throw new UserError(`Restore of ${manifest.id}: ${messages[reason ?? ''] ?? `failed (${reason})`}`);
  }
  if (result.exitCode !== 0 || !records.some((record) => record[0] === 'ok'))
    throw new UserError(
      `Restore of ${manifest.id} did not finish (exit ${result.exitCode}${result.cancelled ? ', cancelled' : ''}): ${result.stderr.trim().slice(0, 300) || 'no message'}; ${databaseState(records, connection)}`,
    );
}

/** What a restore that stopped midway (cancelled, killed, timed out) left of the database. */
function databaseState(records: string[][], connection: Connection): string {
  if (!records.some((record) => record[0] === 'restoring')) return 'the database was not touched';
  return connection.engine === 'postgres'
    ? 'pg_restore runs in a single transaction, so the database is as it was'
    : 'the database may be partly restored — restore again';
}

/**
 * Restores a backup into the database, under the deploy lock: the backup's files are checked against the sizes and
 * SHA-256 of its manifest first, and only then the dump is restored (`pg_restore --clean --if-exists
 * --single-transaction`, or the mysql client). Writes made since the backup are lost.
 */
export async function restoreBackup(
  target: Target,
  config: RestoreConfig,
  context: Partial<CoreContext> = {},
): Promise<BackupOutcome> {
  const ctx = coreContext(context);
  if (config.backupId !== 'latest' && !BACKUP_NAME.test(config.backupId))
    throw new ArgumentError(
      'backupId',
      `"${config.backupId}" is not a backup id; pass latest or a directory name like 20250102_030405-abcdef12`,
    );
  const { target: counted, roundTrips } = countingTarget(target);
  const started = ctx.now();
  const tools = requiredTools(config.engine, 'restore', false);
  const { lock, inspection } = await openSession(counted, config, tools, ctx);
  const results: CheckResult[] = [];
  try {
    const connection = resolveConnection(config.engine, config.databaseUrl, config.envFile, inspection);
    if (connection.password) config.onSecret?.(connection.password);
    ctx.redactor.add(connection.password);
    const manifest = chosenManifest(inspection, config, target.description);
    if (manifest.database !== connection.database)
      throw new UserError(
        `Backup ${manifest.id} is of database "${manifest.database}", not "${connection.database}"; restore it into the database it came from. Nothing was restored`,
      );
    const marker = newMarker();
    const script = restoreScript({
      root: config.releasesRoot,
      backupsRoot: config.backupsRoot,
      id: manifest.id,
      connection,
      files: manifest.files.filter((file) => file.role === 'database'),
      guard: lock.guard,
      marker,
      owner: config.lockOwner ?? 'deploy-gates db-backup restore',
    });
    ctx.logger.info(`Restoring ${manifest.id} into ${describeConnection(connection)} (writes since then are lost)`);
    const { records, result } = await runRecords(
      counted,
      script,
      marker,
      credentialFile(connection),
      ctx,
      config.signal,
    );
    restoreFailure(records, result, manifest, connection, target.description);
    results.push({
      name: 'restored',
      status: 'pass',
      detail: `${manifest.id} → ${describeConnection(connection)} (checksums matched first)`,
      durationMs: ctx.now() - started,
    });
    const path = `${config.backupsRoot.replace(/\/+$/, '')}/${manifest.id}`;
    const { id } = manifest;
    return {
      ok: true,
      id,
      path,
      manifest,
      database: connection.database,
      pruned: [],
      results,
      roundTrips: roundTrips(),
    };
  } catch (error) {
    if (!(error instanceof UserError) || error instanceof ArgumentError) throw error;
    results.push({ name: 'restore', status: 'fail', detail: error.message, durationMs: ctx.now() - started });
    return { ok: false, pruned: [], results, failure: error.message, roundTrips: roundTrips() };
  } finally {
    await lock.release();
  }
}
