import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { gracefulScope } from '#core/cancel.js';
import { openTarget, targetSpec } from '#core/hosts/inputs.js';
import { defaultLockOwner } from '#core/release/lock.js';
import { restoreBackup, takeBackup, type BackupOutcome } from '#core/backup/index.js';
import { urlCredentials } from '#core/redact.js';
import { dbBackupInputs, type DbBackupInputs } from './inputs.js';

/** The run that takes the backup, for the manifest and the lock: `owner/repo#run/attempt (workflow / job)`. */
function runName(): string | undefined {
  const env = process.env;
  if (!env.GITHUB_RUN_ID) return undefined;
  return `${env.GITHUB_REPOSITORY ?? '?'}#${env.GITHUB_RUN_ID}/${env.GITHUB_RUN_ATTEMPT ?? '1'} (${env.GITHUB_WORKFLOW ?? '?'} / ${env.GITHUB_JOB ?? '?'})`;
}

function config(inputs: DbBackupInputs, mask: (secret: string) => void, signal: AbortSignal) {
  const run = runName();
  return {
    engine: inputs.engine,
    releasesRoot: inputs['releases-root'],
    backupsRoot: inputs['backups-root'],
    databaseUrl: inputs['database-url'],
    envFile: inputs['env-file'],
    lockTimeoutMs: inputs['lock-timeout'],
    lockOwner: `${run ? `run ${run}, ` : ''}${defaultLockOwner()}`,
    onSecret: mask,
    signal,
    run,
  };
}

/** The whole URL and its password (as written and percent-decoded); not the user name, which the log may show. */
function urlSecrets(raw: string): string[] {
  try {
    const { password } = new URL(raw);
    return password ? [raw, password, decodeURIComponent(password)] : [raw];
  } catch {
    return [raw, ...urlCredentials(raw)]; // too broken to parse: mask every part of its userinfo
  }
}

export const action = defineAction({
  name: 'db-backup',
  inputs: dbBackupInputs,
  secrets: { 'ssh-key': 'multiline', 'database-url': urlSecrets },
  argumentInputs: { databaseUrl: 'database-url', envFile: 'env-file', backupId: 'backup-id' },
  outputs: z.object({
    'backup-id': outputValue().optional(),
    path: outputValue().optional(),
    sha256: outputValue().optional(),
    size: outputValue().optional(),
    report: outputValue(),
  }),
  async main(inputs, context) {
    const scope = gracefulScope();
    const base = config(inputs, (secret) => context.mask(secret), scope.signal);
    let outcome: BackupOutcome;
    const target = await openTarget(targetSpec(inputs.target, inputs['ssh-key'], inputs['known-hosts']));
    try {
      context.logger.info(`db-backup ${inputs.mode} (${inputs.engine}) on ${target.description}: ${base.releasesRoot}`);
      outcome =
        inputs.mode === 'restore'
          ? await restoreBackup(target, { ...base, backupId: inputs['backup-id'] }, context)
          : await takeBackup(target, backupConfig(inputs, base), context);
    } finally {
      await target.close();
      scope.close();
    }
    return render(inputs, outcome, target.description, inputs['report-path'] ?? context.defaultReportPath);
  },
});

function backupConfig(inputs: DbBackupInputs, base: ReturnType<typeof config>) {
  const sha = inputs.sha;
  return { ...base, paths: inputs.paths, keep: inputs.keep, sha, label: inputs.label ?? sha?.slice(0, 8) ?? 'manual' };
}

function render(inputs: DbBackupInputs, outcome: BackupOutcome, target: string, report: string) {
  const dump = outcome.manifest?.files.find((file) => file.role === 'database');
  const restore = inputs.mode === 'restore';
  return {
    title: restore ? 'Database restore' : 'Database backup',
    itemLabel: 'Step',
    results: outcome.results,
    facts: [
      ['Target', target],
      ['Backup', outcome.id ?? '(none)'],
      ...(dump ? [['Dump', `${dump.name}, ${dump.size} bytes, SHA-256 ${dump.sha256}`] as const] : []),
      ...(outcome.pruned.length > 0 ? [['Pruned', outcome.pruned.join(', ')] as const] : []),
      ['Round trips', String(outcome.roundTrips)],
    ] as const,
    report: {
      path: report,
      document: {
        action: 'db-backup',
        stage: 'backup',
        ok: outcome.ok,
        mode: inputs.mode,
        target,
        releasesRoot: inputs['releases-root'],
        backupsRoot: inputs['backups-root'],
        release: outcome.manifest?.release,
        sha: outcome.manifest?.sha ?? inputs.sha,
        backup: outcome.manifest,
        pruned: outcome.pruned,
        failure: outcome.failure,
        roundTrips: outcome.roundTrips,
        results: outcome.results,
      },
    },
    outputs: {
      'backup-id': outcome.id,
      path: outcome.path,
      sha256: dump?.sha256,
      size: dump ? String(dump.size) : undefined,
      report,
    },
    verdict: restore ? `restored ${outcome.id} into ${outcome.database}` : `backup ${outcome.id} stored and verified`,
    failure: outcome.ok ? undefined : (outcome.failure ?? 'db-backup failed'),
  };
}

export const run = action.run;
