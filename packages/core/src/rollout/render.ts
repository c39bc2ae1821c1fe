import { markdownText } from '../report/markdown.js';
import type { RenderedOutcome } from '../report/rendered.js';
import { renderRolloutTable } from './markdown.js';
import { rolloutReportFacts } from './report.js';
import type { RolloutOutcome } from './run.js';

/** A rollout as the step shows it, with the table of services as its summary (RenderedOutcome + `summary`). */
export function renderRollout(outcome: RolloutOutcome): RenderedOutcome & { summary: string } {
  const { services, rollback, failure, ok } = outcome;
  // Honest about what happened: "rolled back" only when some service had been switched.
  const title = ok
    ? `Release of ${services.length} services`
    : rollback?.ok === false
      ? 'Release of services: ROLLBACK FAILED'
      : services.some((s) => s.switched)
        ? 'Release of services: rolled back'
        : 'Release of services: nothing switched';
  const icon = ok ? '✅' : rollback?.ok === false ? '🚨' : '❌';
  const first = services[0]!.newRelease;
  return {
    title,
    results: outcome.results,
    summary: `## ${icon} ${title}\n\n${renderRolloutTable(outcome)}${failure ? `\n${markdownText(failure)}\n` : ''}`,
    report: rolloutReportFacts(outcome),
    verdict: `${services.length} services on ${first}${services.some((s) => s.newRelease !== first) ? ' (and others)' : ''}`,
    failure: failure ?? undefined,
  };
}
