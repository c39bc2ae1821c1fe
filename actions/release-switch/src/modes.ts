import type { ActionContext, ActionResult } from '#action-kit/index.js';
import { withTarget } from '#action-kit/target.js';
import { shellPath } from '#core/hosts/index.js';
import { breakLock, describeHolder, linkShared, LOCK_DIR, markBad, type UnlockOutcome } from '#core/release/index.js';
import type { ReleaseSwitchConfig, ReleaseSwitchInputs } from './inputs.js';

type Outputs = { 'current-release'?: string; 'previous-release'?: string; switched: string; 'rolled-back': string };

/** `mode: mark-bad`: one `bad` entry in the releases-root's history; `current` is not touched. */
export async function markBadResult(
  inputs: ReleaseSwitchInputs,
  config: ReleaseSwitchConfig,
  context: ActionContext,
  targetName: string,
): Promise<ActionResult<Outputs>> {
  const outcome = await withTarget(inputs, (target) => markBad(target, config, context), { tempDir: context.tempDir });
  return {
    title: 'Release marked bad',
    results: outcome.results,
    facts: [
      ['Target', targetName],
      ['Releases root', config.releasesRoot],
      ['Marked bad', outcome.release],
      ['Current release', outcome.currentRelease ?? '(none)'],
      ['Round trips', String(outcome.roundTrips)],
    ],
    report: {
      stage: 'rollback',
      release: outcome.release,
      sha: outcome.history[0]?.sha ?? undefined,
      currentRelease: outcome.currentRelease,
      details: { target: targetName, releasesRoot: config.releasesRoot, mode: 'mark-bad', ...outcome },
    },
    outputs: { 'current-release': outcome.currentRelease, switched: 'false', 'rolled-back': 'false' },
    verdict: `releases/${outcome.release} is marked bad: a rollback without release never goes to it`,
  };
}

/** `mode: link`: the shared entries linked into a release not yet live, under the lock; `current` is not touched. */
export async function linkResult(
  inputs: ReleaseSwitchInputs,
  config: ReleaseSwitchConfig,
  context: ActionContext,
  targetName: string,
): Promise<ActionResult<Outputs>> {
  const outcome = await withTarget(inputs, (target) => linkShared(target, config, context), {
    tempDir: context.tempDir,
  });
  return {
    title: 'Shared files linked',
    results: outcome.results,
    facts: [
      ['Target', targetName],
      ['Releases root', config.releasesRoot],
      ['Release', outcome.release],
      ['Current release', outcome.currentRelease ?? '(none)'],
      ['Round trips', String(outcome.roundTrips)],
    ],
    report: {
      stage: 'link',
      release: outcome.release,
      currentRelease: outcome.currentRelease,
      details: { target: targetName, releasesRoot: config.releasesRoot, mode: 'link', ...outcome },
    },
    outputs: { 'current-release': outcome.currentRelease, switched: 'false', 'rolled-back': 'false' },
    verdict:
      outcome.failure ?? `the shared entries are linked into releases/${outcome.release}; current was not switched`,
    failure: outcome.failure,
  };
}

/** What a forced break did to the live holder's session on the host. */
function stopNote(outcome: UnlockOutcome): string {
  if (outcome.stopped) return '; its session on the host was stopped';
  if (outcome.holderUnverified)
    return `; its session was not stopped: the pid in the lock is not a process holding the lock file, so nothing was killed; that run keeps the flock until it ends, and the next deploy waits for it`;
  return '';
}

/** `mode: unlock`: breaks the deploy lock of releases-root, naming the holder it broke (or refusing, see breakLock). */
export async function unlockResult(
  inputs: ReleaseSwitchInputs,
  config: ReleaseSwitchConfig,
  context: ActionContext,
  targetName: string,
): Promise<ActionResult<Outputs>> {
  const started = performance.now();
  const root = config.releasesRoot;
  const outcome = await withTarget(
    inputs,
    (target) => breakLock(target, root, { force: config.force, rootShell: shellPath(root) }),
    { tempDir: context.tempDir },
  );
  const where = `${root}/${LOCK_DIR} on ${targetName}`;
  const holder = outcome.holder ? describeHolder(outcome.holder) : '';
  const liveness =
    outcome.judgedBy === 'flock'
      ? 'its holder still holds the flock (a deploy is running)'
      : 'its heartbeat is fresh (a deploy may be running; this host has no flock to tell)';
  const detail =
    outcome.state === 'none'
      ? `there is no deploy lock ${where}; nothing to do`
      : outcome.state === 'refused'
        ? `not broken: ${where} is held by ${holder} and ${liveness}; nothing was changed. Wait for that run, or pass force: true to break it anyway (that run's next change is then refused)`
        : `broke ${where}, held by ${holder}${outcome.alive ? ` (alive, broken with force: true${stopNote(outcome)})` : ' (its holder is gone)'}`;
  context.logger.info(detail);
  return {
    title: 'Deploy lock',
    results: [
      {
        name: 'unlock',
        status: outcome.state === 'refused' ? 'fail' : outcome.state === 'none' ? 'skip' : 'pass',
        detail,
        durationMs: performance.now() - started,
      },
    ],
    facts: [
      ['Target', targetName],
      ['Releases root', root],
      ['Holder', holder || '(none)'],
    ],
    report: { details: { target: targetName, releasesRoot: root, mode: 'unlock', force: config.force, ...outcome } },
    outputs: { switched: 'false', 'rolled-back': 'false' },
    verdict: detail,
    failure: outcome.state === 'refused' ? detail : undefined,
  };
}
