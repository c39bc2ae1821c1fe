import { z } from 'zod';
import {
  InputError,
  boolean,
  checkedBy,
  duration,
  integer,
  list,
  oneOf,
  optional,
  positiveDuration,
  required,
  withDefault,
} from '#action-kit/inputs.js';
import { targetInputs } from '#action-kit/target.js';
import {
  DEFAULT_RELEASE_PATTERN,
  parseSharedEntries,
  releasePatternProblem,
  type SwitchConfig,
} from '#core/release/index.js';

/** The inputs of release-switch, keyed by their action.yml names, with the same defaults. */
export const releaseSwitchInputs = {
  'releases-root': required('/var/www/app'),
  release: optional(),
  mode: withDefault('switch', oneOf(['switch', 'rollback', 'mark-bad', 'unlock', 'link'])),
  /** The commit the release was built from, for its history entry. */
  sha: optional().refine((sha) => sha === undefined || /^[0-9a-f]{40}$/.test(sha), {
    message:
      'must be the full 40-character commit SHA (lower-case hex) the release was built from, e.g. the sha output of resolve-build-run',
  }),
  /** `mode: unlock` only: break the lock even while its holder is alive. */
  force: withDefault('false', boolean()),
  /** Current, the previous good release and releases newer than current are never pruned; bad ones never count. */
  keep: withDefault('5', integer({ min: 0, max: 1000 })),
  /** One command per line; blank lines and `#` comment lines are dropped. */
  'before-switch': list(),
  'after-switch': list(),
  'rollback-on-failure': withDefault('true', boolean()),
  'hook-timeout': withDefault('10m', positiveDuration()),
  /** How long to wait for another run's deploy lock on releases-root; 0 tries once. */
  'lock-timeout': withDefault('5m', duration()),
  /** Which directories under releases/ are releases (a glob for one name); only these are pruned. */
  'release-pattern': withDefault(
    DEFAULT_RELEASE_PATTERN,
    checkedBy((text) => {
      const problem = releasePatternProblem(text);
      return problem ? { problem } : { value: text };
    }),
  ),
  /** Paths under releases-root/shared linked into the new release before its hooks, one per line (`.env`, `storage/`). */
  shared: list(),
  'shared-replace': withDefault('false', boolean()),
  ...targetInputs,
  'report-path': optional(),
};

export type ReleaseSwitchInputs = z.output<z.ZodObject<typeof releaseSwitchInputs>>;

/** The release name's `-<sha8>` suffix (pack-bundle's naming) must agree with `sha` when both are given. */
function checkedSha(inputs: ReleaseSwitchInputs): string | null {
  const { sha, release } = inputs;
  if (sha === undefined) return null;
  const suffix = /-([0-9a-f]{8})$/.exec(release ?? '')?.[1];
  if (suffix !== undefined && !sha.startsWith(suffix))
    throw new InputError(
      'sha',
      `${sha} is not the commit of release ${release} (its name ends in ${suffix}); pass the SHA the release was built from`,
    );
  return sha;
}

/** SwitchConfig for every mode: `mark-bad` and `unlock` use releasesRoot, release, sha, lock settings and force. */
export type ReleaseSwitchConfig = Omit<SwitchConfig, 'mode'> & { mode: ReleaseSwitchInputs['mode']; force: boolean };

export function toConfig(inputs: ReleaseSwitchInputs): ReleaseSwitchConfig {
  return {
    sha: checkedSha(inputs),
    force: inputs.force,
    releasesRoot: inputs['releases-root'],
    release: inputs.release,
    mode: inputs.mode,
    keep: inputs.keep,
    beforeSwitch: inputs['before-switch'],
    afterSwitch: inputs['after-switch'],
    rollbackOnFailure: inputs['rollback-on-failure'],
    hookTimeoutMs: inputs['hook-timeout'],
    lockTimeoutMs: inputs['lock-timeout'],
    releasePattern: inputs['release-pattern'],
    shared: { entries: parseSharedEntries(inputs.shared), replace: inputs['shared-replace'] },
  };
}
