import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { targetSecrets } from '#action-kit/target.js';
import { inlineSecrets } from '#core/gates/index.js';
import { rollbackOrderOf } from '#core/rollout/index.js';
import { UserError } from '#core/errors.js';
import { watchSecrets } from '#action-kit/watch.js';
import { releaseServicesInputs } from './inputs.js';
import { urlCredentials } from '#core/redact.js';

export const action = defineAction({
  name: 'release-services',
  stage: 'rollout',
  inputs: releaseServicesInputs,
  // A health URL in services may carry credentials (`https://user:pass@…`): masked from the raw YAML.
  secrets: { ...targetSecrets, ...watchSecrets, gates: inlineSecrets, services: urlCredentials },
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
    // The rollout (hosts, release switching, gates, health checks) is loaded once the inputs are good: a step stopped
    // at an input error, the first line a user with a wrong input waits for, does not compile it (README, Cold start).
    const { rollout } = await import('./rollout.js');
    return rollout(inputs, context);
  },
});

export const run = action.run;
