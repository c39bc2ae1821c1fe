import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { gracefulScope } from '#core/cancel.js';
import { openTarget, targetSpec } from '#core/hosts/inputs.js';
import { LocalTarget } from '#core/hosts/local.js';
import type { Target } from '#core/hosts/target.js';
import { defaultLockOwner } from '#core/release/lock.js';
import {
  renderRolloutTable,
  rollbackOrderOf,
  rolloutReportFacts,
  rolloutServices,
  type RolloutOutcome,
} from '#core/rollout/index.js';
import { UserError } from '#core/errors.js';
import { markdownText } from '#core/report/index.js';
import { healthFor, releaseServicesInputs } from './inputs.js';

export const action = defineAction({
  name: 'release-services',
  stage: 'rollout',
  inputs: releaseServicesInputs,
  secrets: { 'ssh-key': 'multiline' },
  argumentInputs: { services: 'services', rollbackOrder: 'rollback-order' },
  outputs: z.object({
    'rolled-back': z.enum(['true', 'false']),
    'stopped-at': outputValue().optional(),
    'rollback-ok': z.enum(['true', 'false', '']).optional(),
  }),
  async main(inputs, context) {
    const missing = inputs.services.filter((s) => !s.release && !inputs.release).map((s) => s.name);
    if (missing.length > 0)
      throw new UserError(
        `Input "release" is required: ${missing.join(', ')} give no release of their own; pass the release directory name, e.g. 20250102_030405-abcdef12`,
      );
    rollbackOrderOf(inputs.services, inputs['rollback-order']); // a bad order fails before any host is touched
    const scope = gracefulScope();
    const opened = new Map<string, Target>();
    let outcome: RolloutOutcome;
    try {
      const specs = [];
      for (const service of inputs.services) {
        const key = JSON.stringify(service.target);
        if (!opened.has(key))
          opened.set(key, await openTarget(targetSpec(service.target, inputs['ssh-key'], inputs['known-hosts'])));
        specs.push({
          ...service,
          target: opened.get(key)!,
          release: (service.release ?? inputs.release)!,
          health: healthFor(service, inputs),
        });
      }
      const env = process.env;
      const run = env.GITHUB_RUN_ID
        ? `run ${env.GITHUB_REPOSITORY ?? '?'}#${env.GITHUB_RUN_ID}/${env.GITHUB_RUN_ATTEMPT ?? '1'} (${env.GITHUB_WORKFLOW ?? '?'} / ${env.GITHUB_JOB ?? '?'}), `
        : '';
      outcome = await rolloutServices(
        {
          services: specs,
          rollbackOrder: inputs['rollback-order'],
          verify: inputs['verify-command']
            ? { command: inputs['verify-command'], target: new LocalTarget() }
            : undefined,
          keep: inputs.keep,
          hookTimeoutMs: inputs['hook-timeout'],
          lockTimeoutMs: inputs['lock-timeout'],
          lockOwner: `${run}${defaultLockOwner()}`,
          rollbackBudgetMs: inputs['rollback-budget'],
          signal: scope.signal,
        },
        context,
      );
    } finally {
      for (const target of opened.values()) await target.close();
      scope.close();
    }
    const { services, stoppedAt, rollback, failure, ok } = outcome;
    // Honest about what happened: "rolled back" only when some service had been switched.
    const title = ok
      ? `Release of ${services.length} services`
      : rollback?.ok === false
        ? 'Release of services: ROLLBACK FAILED'
        : services.some((s) => s.switched)
          ? 'Release of services: rolled back'
          : 'Release of services: nothing switched';
    const table = renderRolloutTable(outcome);
    return {
      title,
      results: outcome.results,
      summary: `## ${ok ? '✅' : rollback?.ok === false ? '🚨' : '❌'} ${title}\n\n${table}${failure ? `\n${markdownText(failure)}\n` : ''}`,
      report: rolloutReportFacts(outcome),
      outputs: {
        'rolled-back': String(rollback !== null),
        'stopped-at': stoppedAt ?? undefined,
        'rollback-ok': rollback ? String(rollback.ok) : '',
      },
      verdict: `${services.length} services on ${services[0]!.newRelease}${services.some((s) => s.newRelease !== services[0]!.newRelease) ? ' (and others)' : ''}`,
      failure: failure ?? undefined,
    };
  },
});

export const run = action.run;
