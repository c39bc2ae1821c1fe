import { z } from 'zod';
import { requireToken, type GitHubFacts } from '#action-kit/github.js';
import {
  checkedBy,
  credential,
  duration,
  InputError,
  oneOf,
  optional,
  optionalDuration,
  optionalLine,
  optionalOf,
  optionalRepository,
  positiveDuration,
  required,
  withDefault,
} from '#action-kit/inputs.js';
import type { BuildRunQuery } from '#core/build-run/index.js';
import { FULL_SHA, parseCommitSha } from '#core/github/index.js';

/** Empty (then the workflow's commit is used) or a full 40-hex SHA. */
const commitSha = () => optionalOf(checkedBy(parseCommitSha));

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
  workflow: required('build.yml'),
  sha: commitSha(),
  branch: optionalLine('main'),
  event: optional(),
  conclusion: withDefault('success', oneOf(CONCLUSIONS)),
  'artifact-name': optional(),
  wait: withDefault('0s', duration()),
  'poll-interval': withDefault('15s', positiveDuration()),
  'require-environment': optionalLine('staging'),
  // An age, not a wait: a build may have to be days old in staging (`72h`).
  'min-age': optionalDuration({ max: 365 * 24 * 3_600_000 }),
  repository: optionalRepository(),
  'github-token': credential('${{ github.token }}'),
  'report-path': optional(),
};

export type ResolveBuildRunInputs = z.output<z.ZodObject<typeof resolveBuildRunInputs>>;

/** The query from the inputs, with sha, repository and token taken from the workflow run when their inputs are empty. */
export function toQuery(
  inputs: ResolveBuildRunInputs,
  github: GitHubFacts,
): { query: BuildRunQuery; token: string; repository: string } {
  const sha = inputs.sha ?? github.sha;
  if (!sha) throw new InputError('sha', 'is empty and GITHUB_SHA is not set; pass the full commit SHA');
  if (!FULL_SHA.test(sha))
    throw new InputError('sha', `is empty and GITHUB_SHA "${sha}" is not a full 40-character SHA; pass the sha input`);
  const repository = inputs.repository ?? github.repository;
  if (!repository) throw new InputError('repository', 'is empty and GITHUB_REPOSITORY is not set; pass owner/name');
  const token = requireToken(github, 'actions: read');
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
