import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { targetSecrets, withTarget } from '#action-kit/target.js';
import { describeAddress } from '#core/hosts/index.js';
import { renderSwitch, switchRelease } from '#core/release/index.js';
import { releaseSwitchInputs, toConfig } from './inputs.js';
import { linkResult, markBadResult, unlockResult } from './modes.js';

export const action = defineAction({
  name: 'release-switch',
  stage: 'switch',
  inputs: releaseSwitchInputs,
  secrets: targetSecrets,
  argumentInputs: {
    releasesRoot: 'releases-root',
    release: 'release',
    releasePattern: 'release-pattern',
    shared: 'shared',
  },
  outputs: z.object({
    'current-release': outputValue().optional(),
    'previous-release': outputValue().optional(),
    switched: z.enum(['true', 'false']),
    'rolled-back': z.enum(['true', 'false']),
  }),
  async main(inputs, context) {
    const config = { ...toConfig(inputs), lockOwner: context.github.runLabel };
    const targetName = describeAddress(inputs.target);
    if (config.mode === 'unlock') return unlockResult(inputs, config, context, targetName);
    if (config.mode === 'mark-bad') return markBadResult(inputs, config, context, targetName);
    if (config.mode === 'link') return linkResult(inputs, config, context, targetName);
    const mode = config.mode;
    // A cancelled job stops the hook, rolls back what this run switched and releases the lock before the key goes.
    const outcome = await withTarget(
      inputs,
      (target, signal) => {
        const { releasesRoot, release } = config;
        context.logger.info(
          `release-switch ${mode} on ${target.description}: ${releasesRoot}${release ? ` → ${release}` : ''}`,
        );
        return switchRelease(target, { ...config, mode, signal }, context);
      },
      { tempDir: context.tempDir, graceful: true },
    );
    const { currentRelease, previousRelease, switched, rolledBack } = outcome;
    return {
      ...renderSwitch(outcome, { ...config, mode }, targetName),
      outputs: {
        'current-release': currentRelease,
        'previous-release': previousRelease,
        switched: String(switched),
        'rolled-back': String(rolledBack),
      },
    };
  },
});

export const run = action.run;
