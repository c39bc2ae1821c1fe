import type { RenderedOutcome } from '../report/rendered.js';
import type { SwitchConfig, SwitchOutcome } from './switch.js';

/** The report's details of a switch or rollback: what was asked, what happened, and the settings it ran with. */
function switchDetails(outcome: SwitchOutcome, config: SwitchConfig, target: string) {
  const { ok, currentRelease, previousRelease, switched, rolledBack, pruned, failure, results, roundTrips } = outcome;
  const { releasesRoot, mode, release: requested, keep, rollbackOnFailure, beforeSwitch, afterSwitch } = config;
  const settings = {
    keep,
    rollbackOnFailure,
    beforeSwitch,
    afterSwitch,
    lockTimeoutMs: config.lockTimeoutMs,
    releasePattern: config.releasePattern,
  };
  return {
    ...{ ok, target, releasesRoot, mode, requested, currentRelease, previousRelease, switched, rolledBack, pruned },
    ...{ failure, history: outcome.history, roundTrips, settings, results },
  };
}

/** A switch or rollback as the step shows it: summary facts, the report's facts and details, verdict or failure. */
export function renderSwitch(outcome: SwitchOutcome, config: SwitchConfig, target: string): RenderedOutcome {
  const { currentRelease, previousRelease, switched, rolledBack, pruned, mode } = { ...outcome, mode: config.mode };
  return {
    title: mode === 'rollback' ? 'Release rollback' : 'Release switch',
    results: outcome.results,
    facts: [
      ['Target', target],
      ['Releases root', config.releasesRoot],
      ['Current release', currentRelease ?? '(none)'],
      ['Previous release', previousRelease ?? '(none)'],
      ['Switched', String(switched)],
      ['Rolled back', String(rolledBack)],
      ...(pruned.length > 0 ? [['Pruned', pruned.join(', ')] as const] : []),
      ['History', outcome.history.map((entry) => `${entry.outcome} ${entry.release}`).join(', ') || '(nothing)'],
      ['Round trips', String(outcome.roundTrips)],
    ],
    report: {
      // A rollback is evidence about the release it moved away from (what `current` pointed to before).
      stage: mode === 'rollback' ? 'rollback' : undefined,
      release: mode === 'rollback' ? previousRelease : (config.release ?? currentRelease),
      sha: mode === 'switch' ? (config.sha ?? undefined) : undefined,
      previousRelease,
      currentRelease,
      rolledBack: rolledBack || (mode === 'rollback' && switched),
      details: switchDetails(outcome, config, target),
    },
    verdict: switched
      ? `current → releases/${currentRelease}${previousRelease ? ` (was ${previousRelease})` : ''}`
      : `current already at releases/${currentRelease}`,
    failure: outcome.ok ? undefined : (outcome.failure ?? 'release-switch failed'),
  };
}
