import type { RenderedOutcome } from '../report/rendered.js';
import type { VerifyOutcome } from './verify.js';

/** The summary's facts under the steps: where the bundle came from, its checksum, provenance and release. */
function verifyFacts(outcome: VerifyOutcome, source: string, target: string): [string, string][] {
  const rows: [string, string][] = [
    ['Source', source],
    ['Target', target],
  ];
  if (outcome.bundlePath)
    rows.push(['Bundle', `${outcome.bundlePath}${outcome.size !== undefined ? ` (${outcome.size} bytes)` : ''}`]);
  if (outcome.sha256) rows.push(['SHA-256', `${outcome.sha256} (${outcome.checksumSources.join(' and ')})`]);
  if (outcome.artifact) rows.push(['Artifact digest', outcome.artifact.digest ?? 'not reported by GitHub']);
  const provenance = outcome.results.find((result) => result.name === 'Provenance' && result.status === 'pass');
  rows.push(['Provenance', provenance ? `verified: ${provenance.detail}` : 'off']);
  if (outcome.releaseDir) rows.push(['Release', outcome.releaseDir]);
  return rows;
}

/** A verification as the step shows it: its steps, facts, report details and verdict (`source`/`target` described). */
export function renderVerify(outcome: VerifyOutcome, source: string, target: string): RenderedOutcome {
  const { results, failure, ok, ...rest } = outcome;
  return {
    title: 'Bundle verification',
    itemLabel: 'Step',
    results,
    facts: verifyFacts(outcome, source, target),
    report: {
      release: outcome.releaseName,
      bundleSha256: outcome.sha256,
      details: { source, target, ...rest, failure },
    },
    verdict: outcome.releaseDir
      ? `${outcome.sha256} verified, unpacked into ${outcome.releaseDir}`
      : `${outcome.sha256} verified`,
    failure: ok ? undefined : (failure ?? 'verify-bundle-sha failed'),
  };
}
