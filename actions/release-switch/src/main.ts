import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { targetSecrets, withTarget } from '#action-kit/target.js';
import { describeAddress } from '#core/hosts/index.js';
import { switchRelease, type SwitchConfig, type SwitchOutcome } from '#core/release/index.js';
import { releaseSwitchInputs, toConfig } from './inputs.js';

function reportDetails(outcome: SwitchOutcome, config: SwitchConfig, target: string) {
  const { ok, currentRelease, previousRelease, switched, rolledBack, pruned, failure, results, roundTrips } = outcome;
  const {
    releasesRoot,
    mode,
    release: requested,
    keep,
    rollbackOnFailure,
    beforeSwitch,
    afterSwitch,
    lockTimeoutMs,
    releasePattern,
  } = config;
  const settings = { keep, rollbackOnFailure, beforeSwitch, afterSwitch, lockTimeoutMs, releasePattern };
  return {
    ok,
    target,
    releasesRoot,
    mode,
    requested,
    currentRelease,
    previousRelease,
    switched,
    rolledBack,
    pruned,
    failure,
    roundTrips,
    settings,
    results,
  };
}

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
    // A cancelled job stops the hook, rolls back what this run switched and releases the lock before the key goes.
    const outcome = await withTarget(
      inputs,
      (target, signal) => {
        const { mode, releasesRoot, release } = config;
        context.logger.info(
          `release-switch ${mode} on ${target.description}: ${releasesRoot}${release ? ` → ${release}` : ''}`,
        );
        return switchRelease(target, { ...config, signal }, context);
      },
      { tempDir: context.tempDir, graceful: true },
    );
    const { currentRelease, previousRelease, switched, rolledBack, pruned } = outcome;
    const targetName = describeAddress(inputs.target);
    return {
      title: config.mode === 'rollback' ? 'Release rollback' : 'Release switch',
      results: outcome.results,
      facts: [
        ['Target', targetName],
        ['Releases root', config.releasesRoot],
        ['Current release', currentRelease ?? '(none)'],
        ['Previous release', previousRelease ?? '(none)'],
        ['Switched', String(switched)],
        ['Rolled back', String(rolledBack)],
        ...(pruned.length > 0 ? [['Pruned', pruned.join(', ')] as const] : []),
        ['Round trips', String(outcome.roundTrips)],
      ],
      report: {
        // A rollback is evidence about the release it moved away from (what `current` pointed to before).
        stage: config.mode === 'rollback' ? 'rollback' : undefined,
        release: config.mode === 'rollback' ? previousRelease : (config.release ?? currentRelease),
        previousRelease,
        currentRelease,
        rolledBack: rolledBack || (config.mode === 'rollback' && switched),
        details: reportDetails(outcome, config, targetName),
      },
      outputs: {
        'current-release': currentRelease,
        'previous-release': previousRelease,
        switched: String(switched),
        'rolled-back': String(rolledBack),
      },
      verdict: switched
        ? `current → releases/${currentRelease}${previousRelease ? ` (was ${previousRelease})` : ''}`
        : `current already at releases/${currentRelease}`,
      failure: outcome.ok ? undefined : (outcome.failure ?? 'release-switch failed'),
    };
  },
});

export const run = action.run;
