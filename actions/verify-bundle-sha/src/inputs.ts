import { z } from 'zod';
import { credential, InputError, optional, optionalRepository, size, withDefault } from '#action-kit/inputs.js';
import { requireToken, type GitHubFacts } from '#action-kit/github.js';
import { targetInputs } from '#action-kit/target.js';
import type { VerifyConfig } from '#core/bundle/index.js';
import { provenanceInputs } from './provenance-inputs.js';

/** An optional positive id (a run's, an artifact's): `what` names it in the error, with where it comes from. */
const optionalId = (what: string) =>
  z.string().transform((text, ctx) => {
    const value = text.trim();
    if (value === '') return undefined;
    if (!/^\d{1,16}$/.test(value) || Number(value) <= 0 || !Number.isSafeInteger(Number(value))) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not ${what}` });
      return z.NEVER;
    }
    return Number(value);
  });

/** The inputs of verify-bundle-sha, keyed by their action.yml names, with the same defaults. */
export const verifyBundleShaInputs = {
  'run-id': optionalId("a run id (a number, e.g. resolve-build-run's run-id output)"),
  'artifact-name': optional(),
  'artifact-id': optionalId("an artifact id (a number, e.g. resolve-build-run's artifact-id output)"),
  repository: optionalRepository(),
  'github-token': credential('${{ github.token }}'),
  bundle: optional(),
  'checksum-file': optional(),
  'expected-sha256': optional(),
  'extract-to': optional(),
  'release-name': optional(),
  'max-size': withDefault('2GiB', size()),
  ...targetInputs,
  ...provenanceInputs,
  'report-path': optional(),
};

export type VerifyBundleInputs = z.output<z.ZodObject<typeof verifyBundleShaInputs>>;

export type Source =
  | { kind: 'file'; path: string }
  | { kind: 'artifact'; owner: string; repo: string; runId: number; name: string; id?: number; token: string };

/** Where the bundle comes from: exactly one of `bundle`, or `run-id` + `artifact-name` (with a repository and token). */
export function toSource(inputs: VerifyBundleInputs, github: GitHubFacts): Source {
  const runId = inputs['run-id'];
  const name = inputs['artifact-name'];
  const id = inputs['artifact-id'];
  if (inputs.bundle !== undefined) {
    if (runId !== undefined || name !== undefined || id !== undefined)
      throw new InputError(
        'bundle',
        'is given together with run-id/artifact-name/artifact-id; pass either a bundle on disk or an artifact of a run, not both',
      );
    return { kind: 'file', path: inputs.bundle };
  }
  if (runId === undefined && name === undefined && id === undefined)
    throw new InputError(
      'bundle',
      'is empty and so are run-id and artifact-name; pass bundle (a .tar.gz on disk) or run-id + artifact-name (e.g. from resolve-build-run)',
    );
  if (runId === undefined)
    throw new InputError(
      'run-id',
      `is empty; artifact "${name}" is downloaded from a run: pass run-id (resolve-build-run's run-id output)`,
    );
  if (name === undefined)
    throw new InputError(
      'artifact-name',
      `is empty; pass the name of the artifact of run ${runId} that holds the bundle (resolve-build-run's artifact-name output)`,
    );
  const repository = inputs.repository ?? github.repository;
  if (!repository) throw new InputError('repository', 'is empty and GITHUB_REPOSITORY is not set; pass owner/name');
  const token = requireToken(github, 'actions: read');
  return { kind: 'artifact', ...repository, runId, name, ...(id === undefined ? {} : { id }), token };
}

/** Everything of the configuration but the source. */
export function toConfig(inputs: VerifyBundleInputs, github: GitHubFacts): Omit<VerifyConfig, 'source'> {
  return {
    checksumFile: inputs['checksum-file'],
    expectedSha256: inputs['expected-sha256'],
    extractTo: inputs['extract-to'],
    releaseName: inputs['release-name'],
    commitSha: github.sha,
    maxSize: inputs['max-size'],
  };
}
