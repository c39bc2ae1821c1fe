import { urlCredentials } from '../redact.js';
import type { RenderedOutcome } from '../report/rendered.js';
import type { BackupOutcome } from './backup.js';

/** The database dump of a backup (its manifest's `database` file), when there is one. */
export const backupDump = (outcome: BackupOutcome) => outcome.manifest?.files.find((file) => file.role === 'database');

/**
 * The secret parts of a database URL input: the whole URL and its password (as written and percent-decoded); not
 * the user name, which the log may show. A URL too broken to parse has every part of its userinfo masked.
 */
export function databaseUrlSecrets(raw: string): string[] {
  try {
    const { password } = new URL(raw);
    if (!password) return [raw];
    try {
      return [raw, password, decodeURIComponent(password)];
    } catch {
      return [raw, password]; // a broken %-escape: told as an input error later, masked as written
    }
  } catch {
    return [raw, ...urlCredentials(raw)];
  }
}

/** What the step was asked: the mode, where, and the SHA given (a backup's own SHA is in its manifest). */
export interface BackupRequest {
  mode: 'backup' | 'restore';
  target: string;
  releasesRoot: string;
  backupsRoot: string;
  sha?: string;
}

/** A backup or restore as the step shows it: its steps, the backup's facts, report details and verdict. */
export function renderBackup(request: BackupRequest, outcome: BackupOutcome): RenderedOutcome {
  const dump = backupDump(outcome);
  const restore = request.mode === 'restore';
  const sha = outcome.manifest?.sha ?? request.sha;
  return {
    title: restore ? 'Database restore' : 'Database backup',
    itemLabel: 'Step',
    results: outcome.results,
    facts: [
      ['Target', request.target],
      ['Backup', outcome.id ?? '(none)'],
      ...(dump ? [['Dump', `${dump.name}, ${dump.size} bytes, SHA-256 ${dump.sha256}`] as const] : []),
      ...(outcome.pruned.length > 0 ? [['Pruned', outcome.pruned.join(', ')] as const] : []),
      ['Round trips', String(outcome.roundTrips)],
    ],
    // The SHA the backup preceded; its release is not named, since the release it precedes is not live yet.
    report: {
      sha: sha ?? null,
      details: {
        ...request,
        sha,
        release: outcome.manifest?.release,
        backup: outcome.manifest,
        pruned: outcome.pruned,
        failure: outcome.failure,
        roundTrips: outcome.roundTrips,
      },
    },
    verdict: restore ? `restored ${outcome.id} into ${outcome.database}` : `backup ${outcome.id} stored and verified`,
    failure: outcome.ok ? undefined : (outcome.failure ?? 'db-backup failed'),
  };
}
