import type { ReportFacts } from '../report/document.js';
import type { RolloutOutcome } from './run.js';

/**
 * What a rollout's report says besides its results: the release and where `current` stands — named only when every
 * service was to get the same release, and `current` only when every service is in the same place (all deployed, or
 * none left switched).
 */
export function rolloutReportFacts(outcome: RolloutOutcome): ReportFacts {
  const { services, stoppedAt, rollback, verify, failure } = outcome;
  const watch = outcome.watch && { ...outcome.watch, results: undefined };
  const lead = services[0];
  const oneRelease = lead !== undefined && services.every((s) => s.newRelease === lead.newRelease);
  const current = services.every((s) => s.state === 'deployed')
    ? lead?.newRelease
    : services.every((s) => !s.switched || s.rolledBack)
      ? lead?.previousRelease
      : null;
  return {
    ...(oneRelease ? { release: lead.newRelease, previousRelease: lead.previousRelease, currentRelease: current } : {}),
    rolledBack: services.some((s) => s.rolledBack),
    details: { stoppedAt, rollback, verify, failure, services, ...(watch ? { watch } : {}) },
  };
}
