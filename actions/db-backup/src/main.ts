import { z } from 'zod';
import { defineAction, outputValue, type ActionContext } from '#action-kit/index.js';
import { targetSecrets, withTarget } from '#action-kit/target.js';
import { describeAddress } from '#core/hosts/index.js';
import { restoreBackup, takeBackup, type BackupOutcome } from '#core/backup/index.js';
import { urlCredentials } from '#core/redact.js';
import { dbBackupInputs, type DbBackupInputs } from './inputs.js';

function config(inputs: DbBackupInputs, context: ActionContext, signal: AbortSignal | undefined) {
  const { run } = context.github;
  return {
    engine: inputs.engine,
    releasesRoot: inputs['releases-root'],
    backupsRoot: inputs['backups-root'],
    databaseUrl: inputs['database-url'],
    envFile: inputs['env-file'],
    lockTimeoutMs: inputs['lock-timeout'],
    lockOwner: context.github.runLabel,
    onSecret: (secret: string) => context.mask(secret),
    signal,
    run: run
      ? `${context.github.runUrl ?? run.id} (attempt ${run.attempt}, ${run.workflow ?? '?'} / ${run.job ?? '?'})`
      : undefined,
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
  secrets: { ...targetSecrets, 'database-url': urlSecrets },
  argumentInputs: { databaseUrl: 'database-url', envFile: 'env-file', backupId: 'backup-id' },
  outputs: z.object({
    'backup-id': outputValue().optional(),
    path: outputValue().optional(),
    sha256: outputValue().optional(),
    size: outputValue().optional(),
    report: outputValue(),
  }),
  async main(inputs, context) {
    // A cancelled job stops the dump (its remote process group), whose trap removes what it wrote, then unlocks.
    const outcome = await withTarget(
      inputs,
      (target, signal) => {
        const base = config(inputs, context, signal);
        context.logger.info(
          `db-backup ${inputs.mode} (${inputs.engine}) on ${target.description}: ${base.releasesRoot}`,
        );
        return inputs.mode === 'restore'
          ? restoreBackup(target, { ...base, backupId: inputs['backup-id'] }, context)
          : takeBackup(target, backupConfig(inputs, base, context.github.sha), context);
      },
      { tempDir: context.tempDir, graceful: true },
    );
    const report = inputs['report-path'] ?? context.defaultReportPath;
    return render(inputs, outcome, describeAddress(inputs.target), report);
  },
});

function backupConfig(inputs: DbBackupInputs, base: ReturnType<typeof config>, workflowSha: string | undefined) {
  const sha = inputs.sha ?? workflowSha;
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
