import { z } from 'zod';
import { defineAction, outputValue, type ActionContext } from '#action-kit/index.js';
import { targetSecrets, withTarget } from '#action-kit/target.js';
import { describeAddress } from '#core/hosts/index.js';
import {
  backupDump,
  databaseSource,
  databaseUrlSecrets,
  renderBackup,
  restoreBackup,
  takeBackup,
} from '#core/backup/index.js';
import { dbBackupInputs, type DbBackupInputs } from './inputs.js';

function config(inputs: DbBackupInputs, context: ActionContext, signal: AbortSignal | undefined) {
  const { run, runUrl, runLabel } = context.github;
  return {
    engine: inputs.engine,
    releasesRoot: inputs['releases-root'],
    backupsRoot: inputs['backups-root'],
    databaseUrl: inputs['database-url'],
    envFile: inputs['env-file'],
    lockTimeoutMs: inputs['lock-timeout'],
    lockOwner: runLabel,
    onSecret: (secret: string) => context.mask(secret),
    signal,
    run: run ? `${runUrl ?? run.id} (attempt ${run.attempt}, ${run.workflow ?? '?'} / ${run.job ?? '?'})` : undefined,
  };
}

function backupConfig(inputs: DbBackupInputs, base: ReturnType<typeof config>, workflowSha: string | undefined) {
  const sha = inputs.sha ?? workflowSha;
  return { ...base, paths: inputs.paths, keep: inputs.keep, sha, label: inputs.label ?? sha?.slice(0, 8) ?? 'manual' };
}

export const action = defineAction({
  name: 'db-backup',
  stage: 'backup',
  inputs: dbBackupInputs,
  secrets: { ...targetSecrets, 'database-url': databaseUrlSecrets },
  argumentInputs: {
    databaseUrl: 'database-url',
    envFile: 'env-file',
    backupId: 'backup-id',
    releasesRoot: 'releases-root',
  },
  outputs: () =>
    z.object({
      'backup-id': outputValue().optional(),
      path: outputValue().optional(),
      sha256: outputValue().optional(),
      size: outputValue().optional(),
    }),
  async main(inputs, context) {
    // What is wrong with the database inputs is told before the target is touched (no lock file, no backups/).
    databaseSource(inputs.engine, inputs['database-url'], inputs['env-file']);
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
    const request = {
      mode: inputs.mode,
      target: describeAddress(inputs.target),
      releasesRoot: inputs['releases-root'],
      backupsRoot: inputs['backups-root'],
      sha: inputs.sha,
    };
    const dump = backupDump(outcome);
    return {
      ...renderBackup(request, outcome),
      outputs: { 'backup-id': outcome.id, path: outcome.path, sha256: dump?.sha256, size: dump?.size.toString() },
    };
  },
});

export const run = action.run;
