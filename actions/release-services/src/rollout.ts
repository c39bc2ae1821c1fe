import { withTargets } from '#action-kit/target.js';
import type { ActionContext } from '#action-kit/index.js';
import { LocalTarget } from '#core/hosts/index.js';
import { renderRollout, rolloutServices } from '#core/rollout/index.js';
import { gatesFor, healthFor, rolloutWatch, type ReleaseServicesInputs } from './inputs.js';

/**
 * The rollout once the inputs are read and checked: gates, targets opened, services deployed in order, the table.
 * main.ts loads it on first use, so a step stopped at an input error does not compile the hosts, release and health
 * code (README, Cold start).
 */
export async function rollout(inputs: ReleaseServicesInputs, context: ActionContext) {
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
}
