import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { targetSecrets, withTarget } from '#action-kit/target.js';
import { describeAddress } from '#core/hosts/index.js';
import { listingHeadline, listReleases, renderListingSummary } from '#core/release/index.js';
import { releasesInputs } from './inputs.js';

export const action = defineAction({
  name: 'releases',
  stage: 'inventory',
  inputs: releasesInputs,
  secrets: targetSecrets,
  argumentInputs: { releasesRoot: 'releases-root' },
  outputs: () =>
    z.object({
      'current-release': outputValue().optional(),
      count: outputValue(),
    }),
  async main(inputs, context) {
    const releasesRoot = inputs['releases-root'];
    const started = performance.now();
    const listing = await withTarget(
      inputs,
      (target) => listReleases(target, { releasesRoot, releasePattern: inputs['release-pattern'] }),
      { tempDir: context.tempDir },
    );
    const headline = listingHeadline(listing);
    const facts = [
      ['Target', describeAddress(inputs.target)],
      ['Releases root', listing.root],
      ['History', listing.history.found ? listing.history.path : `${listing.history.path} (not there: no history)`],
      ...(listing.others.length > 0 ? [['Not matching the release pattern', listing.others.join(', ')] as const] : []),
      ...(listing.gone.length > 0 ? [['In history, gone from releases/', listing.gone.join(', ')] as const] : []),
    ] as const;
    return {
      title: 'Releases',
      results: [{ name: 'releases', status: 'pass', detail: headline, durationMs: performance.now() - started }],
      facts,
      summary: renderListingSummary(listing, facts),
      report: { currentRelease: listing.current, release: listing.current, details: listing },
      outputs: { 'current-release': listing.current ?? undefined, count: String(listing.releases.length) },
      verdict: headline,
    };
  },
});

export const run = action.run;
