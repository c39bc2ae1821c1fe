import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { targetSecrets, withTargets } from '#action-kit/target.js';
import { LocalTarget } from '#core/hosts/index.js';
import { renderRolloutTable, rollbackOrderOf, rolloutReportFacts, rolloutServices } from '#core/rollout/index.js';
import { UserError } from '#core/errors.js';
import { markdownText } from '#core/report/index.js';
import { watchSecrets } from '#action-kit/watch.js';
import { healthFor, releaseServicesInputs, rolloutWatch } from './inputs.js';

export const action = defineAction({
  name: 'release-services',
  stage: 'rollout',
  inputs: releaseServicesInputs,
  secrets: { ...targetSecrets, ...watchSecrets },
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
    const watch = rolloutWatch(inputs);
    const { services: given } = inputs;
    const outcome = await withTargets(
      inputs,
      given.map((service) => service.target),
      (targets, signal) =>
        rolloutServices(
          {
            services: given.map((service, index) => ({
              ...service,
              target: targets[index]!,
              release: (service.release ?? inputs.release)!,
              health: healthFor(service, inputs),
            })),
            rollbackOrder: inputs['rollback-order'],
            verify: inputs['verify-command']
              ? { command: inputs['verify-command'], target: new LocalTarget() }
              : undefined,
            keep: inputs.keep,
            hookTimeoutMs: inputs['hook-timeout'],
            lockTimeoutMs: inputs['lock-timeout'],
            lockOwner: context.github.runLabel,
            rollbackBudgetMs: inputs['rollback-budget'],
            signal,
            watch,
          },
          context,
        ),
      { tempDir: context.tempDir, graceful: true },
    );
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
