import { ArgumentError } from '../errors.js';
import { coreContext, type CoreContext } from '../context.js';
import type { CheckResult } from '../report/result.js';
import { countingTarget, type Target } from '../hosts/target.js';
import { sharedResults } from './shared.js';
import { lockAndRead, type SwitchConfig } from './switch.js';

export type LinkConfig = Pick<
  SwitchConfig,
  'releasesRoot' | 'release' | 'lockTimeoutMs' | 'lockOwner' | 'signal' | 'shared'
>;

export interface LinkOutcome {
  ok: boolean;
  /** The release the shared entries were linked into. */
  release: string;
  /** What `current` points to (never changed by linking). */
  currentRelease?: string;
  results: CheckResult[];
  failure?: string;
  roundTrips: number;
}

/**
 * `mode: link`: links the shared entries into a release that is not live yet, under the deploy lock, without
 * switching, hooks, history or pruning — so that gates run on the new release (pre-switch-gates) see it as it will
 * run. The same script a switch runs first (see shared.ts); linking is idempotent, so the switch that follows with
 * the same `shared` finds each entry "already linked". A release that is already current is refused (its links
 * would change a live release). One round trip (the lock holder's script), then the lock's release.
 */
export async function linkShared(
  host: Target,
  config: LinkConfig,
  context: Partial<CoreContext> = {},
): Promise<LinkOutcome> {
  const full = coreContext(context);
  const { target, roundTrips } = countingTarget(host);
  if (!config.release)
    throw new ArgumentError('release', 'is required when mode is link; e.g. 20250102_030405-abcdef12');
  if (!config.shared?.entries.length)
    throw new ArgumentError(
      'shared',
      'needs at least one entry when mode is link, one path per line, e.g. .env and storage/',
    );
  const started = performance.now();
  const read = await lockAndRead(target, config, full, config.shared);
  try {
    const release = read.requested!;
    const where = { root: read.layout.root, release, target: target.description };
    const linked = sharedResults(read.shared!, where, performance.now() - started);
    return {
      ok: linked.failure === undefined,
      release,
      currentRelease: read.layout.current,
      results: [...(read.lockResult ? [read.lockResult] : []), ...linked.results],
      failure: linked.failure,
      roundTrips: roundTrips() + read.lock.exchanges(),
    };
  } finally {
    await read.lock.release();
  }
}
