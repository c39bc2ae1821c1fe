import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
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
import { backupConfig, config, dbBackupInputs } from './inputs.js';

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
