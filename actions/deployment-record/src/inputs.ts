import { z } from 'zod';
import type { RecordPlace } from '#core/deployments/index.js';
import { FULL_SHA } from '#core/github/index.js';
import { httpUrl } from '#core/http/index.js';
import { requireToken, type GitHubFacts } from '#action-kit/github.js';
import {
  boolean,
  checkedBy,
  credential,
  InputError,
  oneOf,
  optional,
  optionalOf,
  optionalRepository,
  required,
  withDefault,
} from '#action-kit/inputs.js';

const fullSha = () =>
  z.string().transform((text, ctx) => {
    const sha = text.trim().toLowerCase();
    if (sha === '') return undefined;
    if (!FULL_SHA.test(sha)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${text.trim()}" is not a full 40-character commit SHA, e.g. \${{ github.sha }}`,
      });
      return z.NEVER;
    }
    return sha;
  });

/** The inputs of deployment-record, keyed by their action.yml names, with the same defaults. */
export const deploymentRecordInputs = {
  mode: oneOf(['start', 'finish'] as const),
  environment: required('${{ inputs.environment }}'),
  sha: fullSha(),
  production: withDefault('false', boolean()),
  // A number past 2^53 would be rounded by Number(), and the status posted to another deployment.
  'deployment-id': optionalOf(
    checkedBy((id) =>
      /^\d+$/.test(id) && Number.isSafeInteger(Number(id))
        ? { value: id }
        : {
            problem: `"${id}" is not a deployment id; pass the deployment-id output of the start step, e.g. \${{ needs.deploy.outputs.deployment-id }}`,
          },
    ),
  ),
  outcome: optional().refine((outcome) => outcome === undefined || outcome === 'success' || outcome === 'failure', {
    message: 'must be `success` or `failure`',
  }),
  'rolled-back-to': optional(),
  'previous-sha': fullSha(),
  // Sent to GitHub as written, once it is an http(s) URL.
  'environment-url': optionalOf(
    checkedBy<string>((text) => {
      const url = httpUrl(text);
      return 'value' in url ? { value: text } : url;
    }),
  ),
  repository: optionalRepository(),
  'github-token': credential('${{ github.token }}'),
  'report-path': optional(),
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
      /** The commit deployed, when given: the deployment must be of it. */
      sha?: string;
    };

/** What to record, where, with which token; each mode's required inputs checked, with an example. */
export function toRequest(
  inputs: DeploymentRecordInputs,
  github: GitHubFacts,
): { place: RecordPlace; request: Request; token: string } {
  const repository = inputs.repository ?? github.repository;
  if (!repository) throw new InputError('repository', 'is empty and GITHUB_REPOSITORY is not set; pass owner/name');
  const token = requireToken(github, 'deployments: write');
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
  if (!inputs['deployment-id'])
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
    deploymentId: Number(inputs['deployment-id']),
    outcome: inputs.outcome as 'success' | 'failure',
    rolledBackTo: inputs['rolled-back-to'],
    previousSha: inputs['previous-sha'],
    ...(inputs.sha ? { sha: inputs.sha } : {}),
  };
  return { place, request, token };
}
