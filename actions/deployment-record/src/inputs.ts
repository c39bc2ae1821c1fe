import type { z } from 'zod';
import type { GitHubFacts } from '#action-kit/github.js';
import {
  boolean,
  checkedBy,
  InputError,
  oneOf,
  optional,
  optionalOf,
  optionalRepository,
  required,
  withDefault,
} from '#action-kit/inputs.js';
import type { RecordPlace } from '#core/deployments/index.js';
import { parseCommitSha } from '#core/github/index.js';

const commitSha = () => optionalOf(checkedBy(parseCommitSha));
const deploymentId = () =>
  optionalOf(
    checkedBy((text) =>
      /^\d+$/.test(text.trim())
        ? { value: Number(text.trim()) }
        : { problem: `"${text.trim()}" is not a deployment id; pass the start step's deployment-id output, e.g. 1234` },
    ),
  );

/** The inputs of deployment-record, keyed by their action.yml names, with the same defaults. */
export const deploymentRecordInputs = {
  mode: oneOf(['start', 'finish'] as const),
  environment: required(),
  sha: commitSha(),
  production: withDefault('false', boolean()),
  'deployment-id': deploymentId(),
  outcome: optionalOf(oneOf(['success', 'failure'] as const)),
  'rolled-back-to': optional(),
  'previous-sha': commitSha(),
  'environment-url': optional(),
  repository: optionalRepository(),
  'github-token': optional(),
};

export type DeploymentRecordInputs = z.output<z.ZodObject<typeof deploymentRecordInputs>>;

export type Request =
  | { mode: 'start'; sha: string }
  | {
      mode: 'finish';
      deploymentId: number;
      outcome: 'success' | 'failure';
      rolledBackTo?: string;
      previousSha?: string;
    };

/** What to record, where, with which token; each mode's required inputs checked, with an example. */
export function toRequest(
  inputs: DeploymentRecordInputs,
  github: GitHubFacts,
): { place: RecordPlace; request: Request; token: string } {
  const repository = inputs.repository ?? github.repository;
  if (!repository) throw new InputError('repository', 'is empty and GITHUB_REPOSITORY is not set; pass owner/name');
  const token = github.token;
  if (!token)
    throw new InputError(
      'github-token',
      'is empty and GITHUB_TOKEN is not set; pass ${{ github.token }} with deployments: write',
    );
  const place: RecordPlace = {
    repo: repository,
    environment: inputs.environment,
    logUrl: github.runUrl,
    environmentUrl: inputs['environment-url'],
    production: inputs.production,
  };
  if (inputs.mode === 'start') {
    if (!inputs.sha)
      throw new InputError('sha', 'is required with mode: start; pass the full SHA deployed, e.g. ${{ inputs.sha }}');
    return { place, request: { mode: 'start', sha: inputs.sha }, token };
  }
  const id = inputs['deployment-id'];
  if (id === undefined)
    throw new InputError(
      'deployment-id',
      "is required with mode: finish; pass the start step's output, e.g. ${{ needs.deploy.outputs.deployment-id }}",
    );
  if (!inputs.outcome) throw new InputError('outcome', 'is required with mode: finish; pass `success` or `failure`');
  if (inputs['rolled-back-to'] && inputs.outcome !== 'failure')
    throw new InputError(
      'rolled-back-to',
      'only applies with outcome: failure (a successful deploy was not rolled back)',
    );
  const request: Request = {
    mode: 'finish',
    deploymentId: id,
    outcome: inputs.outcome,
    rolledBackTo: inputs['rolled-back-to'],
    previousSha: inputs['previous-sha'],
  };
  return { place, request, token };
}
