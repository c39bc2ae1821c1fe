import { z } from 'zod';
import type { BuildRunQuery } from '#core/build-run/resolve.js';
import { InputError } from '#core/errors.js';
import { FULL_SHA } from '#core/github/schemas.js';
import {
  duration,
  oneOf,
  optional,
  optionalDuration,
  optionalRepository,
  required,
  withDefault,
} from '#core/inputs/schema.js';

/** Empty (then GITHUB_SHA is used) or a full 40-hex SHA. */
const commitSha = () =>
  z.string().transform((text, ctx) => {
    const sha = text.trim();
    if (sha === '') return undefined;
    if (!FULL_SHA.test(sha)) {
      ctx.addIssue({
        code: 'custom',
        message: /^[0-9a-f]{4,39}$/i.test(sha)
          ? `"${sha}" is an abbreviated SHA (${sha.length} characters); pass the full 40-character SHA, e.g. \${{ github.sha }} or the output of git rev-parse HEAD`
          : `"${sha}" is not a commit SHA; pass the full 40-character SHA, e.g. \${{ github.sha }}`,
      });
      return z.NEVER;
    }
    return sha.toLowerCase();
  });

export const CONCLUSIONS = [
  'success',
  'failure',
  'neutral',
  'cancelled',
  'skipped',
  'timed_out',
  'action_required',
] as const;

/** The inputs of resolve-build-run, keyed by their action.yml names, with the same defaults. */
export const resolveBuildRunInputs = {
  workflow: required(),
  sha: commitSha(),
  branch: optional(),
  event: optional(),
  conclusion: withDefault('success', oneOf(CONCLUSIONS)),
  'artifact-name': optional(),
  wait: withDefault('0s', duration()),
  'poll-interval': withDefault(
    '15s',
    duration().refine((ms) => ms > 0, { message: 'must be longer than 0ms' }),
  ),
  'require-environment': optional(),
  'min-age': optionalDuration(),
  repository: optionalRepository(),
  'github-token': optional(),
  'report-path': optional(),
};

export type ResolveBuildRunInputs = z.output<z.ZodObject<typeof resolveBuildRunInputs>>;

/** The query from the inputs, with sha, repository and token taken from GITHUB_* when their inputs are empty. */
export function toQuery(
  inputs: ResolveBuildRunInputs,
  env: NodeJS.ProcessEnv,
): { query: BuildRunQuery; token: string; repository: string } {
  const sha = inputs.sha ?? env.GITHUB_SHA?.trim().toLowerCase();
  if (!sha) throw new InputError('sha', 'is empty and GITHUB_SHA is not set; pass the full commit SHA');
  if (!FULL_SHA.test(sha))
    throw new InputError('sha', `is empty and GITHUB_SHA "${sha}" is not a full 40-character SHA; pass the sha input`);
  const [owner, repo] = env.GITHUB_REPOSITORY?.split('/') ?? [];
  const repository = inputs.repository ?? (owner && repo ? { owner, repo } : undefined);
  if (!repository) throw new InputError('repository', 'is empty and GITHUB_REPOSITORY is not set; pass owner/name');
  const token = inputs['github-token'] ?? (env.GITHUB_TOKEN?.trim() || undefined);
  if (!token)
    throw new InputError(
      'github-token',
      'is empty and GITHUB_TOKEN is not set; pass ${{ github.token }} or a token with actions: read',
    );
  if (inputs['min-age'] !== undefined && !inputs['require-environment']) {
    throw new InputError(
      'min-age',
      'only applies with require-environment; set require-environment (e.g. staging) or drop min-age',
    );
  }
  const query: BuildRunQuery = {
    ...repository,
    workflow: inputs.workflow,
    sha,
    branch: inputs.branch,
    event: inputs.event,
    conclusion: inputs.conclusion,
    artifactName: inputs['artifact-name'],
    waitMs: inputs.wait,
    pollIntervalMs: inputs['poll-interval'],
    requireEnvironment: inputs['require-environment'],
    minAgeMs: inputs['min-age'],
  };
  return { query, token, repository: `${repository.owner}/${repository.repo}` };
}
