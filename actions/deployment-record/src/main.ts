import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { finishDeployment, recordRollback, startDeployment } from '#core/deployments/index.js';
import type { CheckResult } from '#core/report/index.js';
import { deploymentRecordInputs, toRequest } from './inputs.js';

const sha = () => outputValue().regex(/^[0-9a-f]{40}$/);
const check = (name: string, detail: string, status: CheckResult['status'] = 'pass'): CheckResult => ({
  name,
  status,
  detail,
  durationMs: 0,
});

export const action = defineAction({
  name: 'deployment-record',
  stage: 'record',
  inputs: deploymentRecordInputs,
  secrets: { 'github-token': 'value' },
  outputs: () =>
    z
      .object({
        'deployment-id': outputValue().regex(/^\d+$/),
        'previous-sha': sha().optional(),
        'live-sha': sha().optional(),
      })
      .strict(),
  async main(inputs, context) {
    const { place, request, token } = toRequest(inputs, context.github);
    const { createGitHubClient } = await import('#core/github/client.js');
    const client = createGitHubClient({ token, logger: context.logger });
    const title = `Deployment record of ${place.environment}`;
    if (request.mode === 'start') {
      const started = await startDeployment(client, place, request.sha);
      const previous = started.previous
        ? `${started.previous.sha} (deployment ${started.previous.deploymentId})`
        : 'none';
      return {
        title,
        results: [
          check('Deployment', `${started.deploymentId} of ${request.sha} in_progress`),
          check('Live before', previous),
        ],
        outputs: { 'deployment-id': String(started.deploymentId), 'previous-sha': started.previous?.sha },
        verdict: `Deployment ${started.deploymentId} of ${request.sha.slice(0, 8)} to ${place.environment}: in_progress`,
      };
    }
    await finishDeployment(client, place, request.deploymentId, request.outcome, request.sha);
    const results = [check('Deployment', `${request.deploymentId} ${request.outcome}`)];
    if (request.outcome === 'success' || !request.rolledBackTo) {
      return {
        title,
        results,
        outputs: { 'deployment-id': String(request.deploymentId) },
        verdict: `Deployment ${request.deploymentId} to ${place.environment}: ${request.outcome}`,
      };
    }
    const previous = request.previousSha ? { sha: request.previousSha } : undefined;
    const live = await recordRollback(client, place, request.rolledBackTo, previous);
    results.push(check('Rollback', `deployment ${live.deploymentId} of ${live.sha} (${request.rolledBackTo}) success`));
    return {
      title,
      results,
      outputs: { 'deployment-id': String(live.deploymentId), 'live-sha': live.sha },
      verdict: `${place.environment} runs ${live.sha.slice(0, 8)} again (deployment ${live.deploymentId}); ${request.deploymentId} failed`,
    };
  },
});

export const run = action.run;
