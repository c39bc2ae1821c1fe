import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import {
  BuildRunNotResolved,
  renderNotResolved,
  renderResolution,
  resolveBuildRun,
  type BuildRunResolution,
} from '#core/build-run/index.js';
import { FULL_SHA } from '#core/github/index.js';
import { resolveBuildRunInputs, toQuery } from './inputs.js';

const id = () => outputValue().regex(/^\d+$/);

function outputs({ run, artifact }: BuildRunResolution) {
  const found = artifact
    ? {
        'artifact-id': String(artifact.id),
        'artifact-name': artifact.name,
        'artifact-size': String(artifact.sizeInBytes),
        'artifact-digest': artifact.digest,
        'artifact-expires-at': artifact.expiresAt,
      }
    : {};
  return {
    'run-id': String(run.id),
    'run-url': run.url,
    'run-attempt': String(run.attempt),
    'run-number': String(run.number),
    'head-sha': run.headSha,
    'created-at': run.createdAt,
    ...found,
  };
}

export const action = defineAction({
  name: 'resolve-build-run',
  stage: 'resolve',
  inputs: resolveBuildRunInputs,
  secrets: { 'github-token': 'value' },
  outputs: () =>
    z
      .object({
        'run-id': id(),
        'run-url': outputValue().url(),
        'run-attempt': id(),
        'run-number': id(),
        'head-sha': outputValue().regex(FULL_SHA),
        'created-at': outputValue(),
        'artifact-id': id().optional(),
        'artifact-name': outputValue().optional(),
        'artifact-size': id().optional(),
        'artifact-digest': outputValue()
          .regex(/^sha256:[0-9a-f]{64}$/)
          .optional(),
        'artifact-expires-at': outputValue().optional(),
      })
      .strict(),
  async main(inputs, context) {
    // An empty github-token falls back to GITHUB_TOKEN (set when the workflow passes the job token through env).
    const { query, token, repository } = toQuery(inputs, context.github);
    // Octokit (with its throttling scheduler) is loaded once the inputs are known to be good.
    const { createGitHubClient } = await import('#core/github/client.js');
    try {
      const resolution = await resolveBuildRun(createGitHubClient({ token, logger: context.logger }), query, context);
      if (resolution.run.headSha.toLowerCase() !== query.sha)
        throw new Error(`resolved run ${resolution.run.id} is for ${resolution.run.headSha}, not ${query.sha}`);
      return { ...renderResolution(resolution, query.sha, repository), outputs: outputs(resolution) };
    } catch (error) {
      if (!(error instanceof BuildRunNotResolved)) throw error;
      // No outputs at all: a later step can never read an empty or `null` run id.
      return renderNotResolved(error, query.sha, repository);
    }
  },
});

export const run = action.run;
