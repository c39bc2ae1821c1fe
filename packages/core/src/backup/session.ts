import { randomBytes } from 'node:crypto';
import { ArgumentError, UserError } from '../errors.js';
import type { CoreContext } from '../context.js';
import { nulFields, shellPath, type CommandResult, type Target } from '../hosts/target.js';
import { acquireLock, LockRefused, type HeldLock } from '../release/lock.js';
import { connectionFromEnv, parseDatabaseUrl, type Connection, type Engine } from './connection.js';
import { missingToolFix } from './problems.js';
import { inspectScript, toolsPrecheck } from './scripts.js';

/** What the host told when the lock was taken (see inspectScript). */
export interface Inspection {
  current?: string;
  backups: string[];
  inUse: string[];
  env?: { text: string } | { problem: 'missing' | 'unreadable' };
  manifest?: { id: string; text: string } | { problem: 'none' | 'missing'; id?: string };
}

export function parseInspection(output: string): Inspection {
  const fields = nulFields(output);
  const out: Inspection = { backups: [], inUse: [] };
  const list = (at: number, into: string[]) => {
    let i = at;
    while (i < fields.length && fields[i] !== 'end') into.push(fields[i++]!);
    return i + 1;
  };
  for (let i = 0; i < fields.length;) {
    const record = fields[i++];
    if (record === 'current') out.current = fields[i++]?.replace(/^releases\//, '') || undefined;
    else if (record === 'backups') i = list(i, out.backups);
    else if (record === 'inuse') i = list(i, out.inUse);
    else if (record === 'env') out.env = { text: fields[i++] ?? '' };
    else if (record === 'noenv') out.env = { problem: fields[i++] === 'missing' ? 'missing' : 'unreadable' };
    else if (record === 'manifest') out.manifest = { id: fields[i++] ?? '', text: fields[i++] ?? '' };
    else if (record === 'nobackup') {
      const problem = fields[i++] === 'none' ? 'none' : 'missing';
      out.manifest = { problem, id: problem === 'missing' ? fields[i++] : undefined };
    }
  }
  return out;
}

export interface SessionConfig {
  releasesRoot: string;
  backupsRoot: string;
  envFile?: string;
  backupId?: string;
  lockTimeoutMs: number;
  lockOwner?: string;
  signal?: AbortSignal;
}

/** Takes the deploy lock of releases-root after checking the tools, and reads what the backup or restore needs. */
export async function openSession(
  target: Target,
  config: SessionConfig,
  tools: readonly string[][],
  context: Partial<CoreContext>,
): Promise<{ lock: HeldLock; inspection: Inspection }> {
  try {
    const lock = await acquireLock(
      target,
      config.releasesRoot,
      {
        timeoutMs: config.lockTimeoutMs,
        owner: config.lockOwner,
        signal: config.signal,
        rootShell: shellPath(config.releasesRoot),
        // A missing releases-root is told as such, before the lock's `cd` would fail on it.
        precheck: `[ -d ${shellPath(config.releasesRoot)} ] || { printf 'noroot\\0'; exit 0; }\n${toolsPrecheck(tools)}`,
        whenAcquired: inspectScript(config.backupsRoot, config.envFile, config.backupId),
      },
      context,
    );
    return { lock, inspection: parseInspection(lock.acquiredOutput) };
  } catch (error) {
    if (!(error instanceof LockRefused)) throw error;
    if (error.fields[0] === 'noroot')
      throw new ArgumentError(
        'releasesRoot',
        `${config.releasesRoot} is not a directory on ${target.description}; give the directory that holds releases/ and current, e.g. /var/www/app. Nothing was changed`,
      );
    const tool = error.fields[1] ?? '?';
    throw new UserError(
      `${tool} is not installed on ${target.description} (not on the PATH of the deploy user); ${missingToolFix(tool)}. Nothing was changed`,
    );
  }
}

/**
 * What can be known of the database without the host: exactly one of database-url and env-file, and database-url's
 * connection (undefined for env-file, which the host reads). Checked before the target is touched.
 */
export function databaseSource(
  engine: Engine,
  databaseUrl: string | undefined,
  envFile: string | undefined,
): Connection | undefined {
  if (databaseUrl !== undefined && envFile !== undefined)
    throw new ArgumentError('envFile', 'pass database-url or env-file, not both');
  if (databaseUrl !== undefined) return parseDatabaseUrl(databaseUrl, engine, 'database-url');
  if (envFile === undefined)
    throw new ArgumentError(
      'envFile',
      'no database given: pass database-url (a secret, e.g. postgres://app:…@127.0.0.1:5432/app) or env-file (e.g. shared/.env)',
    );
  return undefined;
}

/** The connection from database-url or the env file the host read; exactly one of them. */
export function resolveConnection(
  engine: Engine,
  databaseUrl: string | undefined,
  envFile: string | undefined,
  inspection: Inspection,
): Connection {
  const given = databaseSource(engine, databaseUrl, envFile);
  if (given) return given;
  const env = inspection.env;
  if (!env || 'problem' in env)
    throw new ArgumentError(
      'envFile',
      `${envFile} is ${env?.problem ?? 'missing'} on the target (a relative path is under releases-root, e.g. shared/.env)`,
    );
  // databaseSource returns no connection only for env-file.
  return connectionFromEnv(env.text, engine, envFile!);
}

export interface Records {
  /** Every record the script printed, in order, without the marker. */
  records: string[][];
  result: CommandResult;
}

/** A random marker for a script's records. */
export const newMarker = () => `dg-${randomBytes(12).toString('hex')}`;

/** Runs a record-speaking script, logging its `log` records as they arrive. */
export async function runRecords(
  target: Target,
  script: string,
  marker: string,
  stdin: string,
  context: Pick<CoreContext, 'logger'>,
  signal?: AbortSignal,
): Promise<Records> {
  const records: string[][] = [];
  let pending = '';
  const take = (line: string) => {
    if (!line.startsWith(`${marker} `)) return;
    const record = line.slice(marker.length + 1).split(' ');
    records.push(record);
    if (record[0] === 'log') context.logger.info(record.slice(1).join(' '));
  };
  const result = await target.run(script, {
    stdin,
    signal,
    onStdout: (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(take);
    },
  });
  if (pending) take(pending);
  return { records, result };
}
