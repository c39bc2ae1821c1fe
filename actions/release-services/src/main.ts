import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { targetSecrets, withTargets } from '#action-kit/target.js';
import { inlineSecrets } from '#core/gates/index.js';
import { LocalTarget } from '#core/hosts/index.js';
import { renderRollout, rollbackOrderOf, rolloutServices } from '#core/rollout/index.js';
import { UserError } from '#core/errors.js';
import { watchSecrets } from '#action-kit/watch.js';
import { gatesFor, healthFor, releaseServicesInputs, rolloutWatch } from './inputs.js';

export const action = defineAction({
  name: 'release-services',
  stage: 'rollout',
  inputs: releaseServicesInputs,
  secrets: { ...targetSecrets, ...watchSecrets, gates: inlineSecrets },
  argumentInputs: { services: 'services', rollbackOrder: 'rollback-order' },
  outputs: () =>
    z.object({
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
    const gates = await gatesFor(inputs, context); // bad gate YAML fails before any host is touched
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
            gates,
            signal,
            watch,
          },
          context,
        ),
      { tempDir: context.tempDir, graceful: true },
    );
    const { stoppedAt, rollback } = outcome;
    return {
      ...renderRollout(outcome),
      outputs: {
        'rolled-back': String(rollback !== null),
        'stopped-at': stoppedAt ?? undefined,
        'rollback-ok': rollback ? String(rollback.ok) : '',
      },
    };
  },
});

export const run = action.run;
