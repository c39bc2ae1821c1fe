import { z } from 'zod';
import type { ActionContext } from '#action-kit/index.js';
import {
  checkedBy,
  duration,
  integer,
  oneOf,
  optional,
  optionalOf,
  required,
  withDefault,
} from '#action-kit/inputs.js';
import { targetInputs } from '#action-kit/target.js';
import { parseList } from '#core/units/index.js';
import { BACKUP_NAME, ENGINES } from '#core/backup/index.js';

/** One path per line: no `..`, no line breaks (they become tar arguments on the host). */
const paths = () =>
  z.string().transform((text, ctx) => {
    const items = parseList(text);
    for (const item of items)
      if (item.split('/').includes('..'))
        ctx.addIssue({ code: 'custom', message: `"${item}" goes through ".."; write the path without it` });
    return items;
  });

/** The inputs of db-backup, keyed by their action.yml names, with the same defaults. */
export const dbBackupInputs = {
  mode: withDefault('backup', oneOf(['backup', 'restore'])),
  engine: required('postgres').pipe(
    z.enum(ENGINES, {
      error: (issue) => `"${String(issue.input)}" is not an engine; use postgres or mysql (MariaDB too)`,
    }),
  ),
  'releases-root': required('/var/www/app'),
  'backups-root': withDefault('backups', z.string().trim()),
  'database-url': optional(),
  'env-file': optionalOf(
    checkedBy((file) =>
      file.split('/').includes('..')
        ? { problem: `"${file}" goes through ".."; give the file under releases-root, e.g. shared/.env` }
        : { value: file },
    ),
  ),
  paths: paths(),
  label: optional().pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, {
        message: 'must be letters, digits, ".", "_" or "-" (at most 64), e.g. pre-migrate',
      })
      .optional(),
  ),
  sha: optionalOf(
    checkedBy((sha) =>
      /^[0-9a-fA-F]{7,40}$/.test(sha)
        ? { value: sha.toLowerCase() }
        : { problem: `"${sha}" is not a commit SHA (7 to 40 hex digits), e.g. \${{ github.sha }}` },
    ),
  ),
  keep: withDefault('10', integer({ min: 1, max: 1000 })),
  'backup-id': withDefault(
    'latest',
    z
      .string()
      .trim()
      .refine((text) => text === 'latest' || BACKUP_NAME.test(text), {
        message: 'is not a backup id; pass latest or a directory name like 20250102_030405-abcdef12',
      }),
  ),
  'lock-timeout': withDefault('5m', duration()),
  ...targetInputs,
  'report-path': optional(),
};

export type DbBackupInputs = z.output<z.ZodObject<typeof dbBackupInputs>>;

/** What backup and restore share: the database, the lock and the run, from the inputs and the runner's facts. */
export function config(inputs: DbBackupInputs, context: ActionContext, signal: AbortSignal | undefined) {
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

/** A backup's own settings on top of `config`: paths, retention, and the label (the commit's short SHA by default). */
export function backupConfig(inputs: DbBackupInputs, base: ReturnType<typeof config>, workflowSha: string | undefined) {
  const sha = inputs.sha ?? workflowSha;
  return { ...base, paths: inputs.paths, keep: inputs.keep, sha, label: inputs.label ?? sha?.slice(0, 8) ?? 'manual' };
}
