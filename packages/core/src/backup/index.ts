/** db-backup: verified database backups on a target, their restore, and the freshness gate's check. */
export { takeBackup, ARCHIVE_MTIME, type BackupConfig, type BackupOutcome } from './backup.js';
export { restoreBackup, type RestoreConfig } from './restore.js';
export {
  ENGINES,
  connectionFromEnv,
  credentialFile,
  describeConnection,
  parseDatabaseUrl,
  parseDotenv,
  type Connection,
  type Engine,
} from './connection.js';
export { BACKUP_NAME, backupId, backupsToPrune, readManifest, type Manifest } from './manifest.js';
export { DEFAULT_GATE_BACKUPS_ROOT, freshScript, judgeFresh, type FreshSpec } from './fresh.js';
export { backupDump, databaseUrlSecrets, renderBackup, type BackupRequest } from './render.js';
export { databaseSource } from './session.js';
