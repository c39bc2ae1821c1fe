import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { commitTime, FALLBACK_MTIME, headCommit, parseMtime, type PackConfig } from '#core/bundle/index.js';
import { InputError, optional, required, withDefault } from '#action-kit/inputs.js';
import { parseList } from '#core/units/index.js';

/** The inputs of pack-bundle, keyed by their action.yml names, with the same defaults. */
export const packBundleInputs = {
  path: required('. (the checked-out app) or build/'),
  name: withDefault('deployment-bundle-{sha}', z.string().trim()),
  exclude: z.string().transform((text) => parseList(text)),
  'output-dir': optional(),
  mtime: z.string().transform((text, ctx) => {
    if (text.trim() === '') return undefined;
    const date = parseMtime(text);
    if (!date) {
      ctx.addIssue({
        code: 'custom',
        message: `"${text.trim()}" is not a time from 1970 to 2242 (what a tar header holds); use ISO 8601 (2026-11-23T08:00:00Z) or Unix seconds`,
      });
      return z.NEVER;
    }
    return date;
  }),
  'report-path': optional(),
};

export type PackBundleInputs = z.output<z.ZodObject<typeof packBundleInputs>>;

/** The pack configuration: paths resolved against the workspace, `{sha}` and the mtime taken from the commit. */
export async function toConfig(
  inputs: PackBundleInputs,
  { workspace, sha, tempDir }: { workspace: string; sha?: string; tempDir: string },
): Promise<PackConfig & { commit?: string; mtimeSource: string }> {
  const dir = isAbsolute(inputs.path) ? inputs.path : resolve(workspace, inputs.path);
  const commit = sha || (await headCommit(dir));
  let name = inputs.name;
  if (/\{sha8?\}/.test(name)) {
    if (!commit)
      throw new InputError(
        'name',
        `uses {sha} but GITHUB_SHA is not set and ${dir} is not a git checkout; write the name out or run in a checkout`,
      );
    name = name.replaceAll('{sha8}', commit.slice(0, 8)).replaceAll('{sha}', commit);
  }
  let mtime = inputs.mtime;
  let mtimeSource = 'the mtime input';
  if (!mtime) {
    mtime = commit ? await commitTime(dir, commit) : undefined;
    mtimeSource = mtime
      ? `the committer time of ${commit!.slice(0, 8)}`
      : `${FALLBACK_MTIME.toISOString()} (no commit time found)`;
    mtime ??= FALLBACK_MTIME;
  }
  const outputDir = inputs['output-dir'] ?? join(tempDir, 'deploy-gates-bundle');
  return {
    dir,
    name,
    exclude: inputs.exclude,
    outputDir: isAbsolute(outputDir) ? outputDir : resolve(workspace, outputDir),
    mtime,
    commit,
    mtimeSource,
  };
}
