import { z } from 'zod';
import {
  boolean,
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
import { DEFAULT_RELEASE_PATTERN, parseSharedEntries, type SwitchConfig } from '#core/release/index.js';

/** The inputs of release-switch, keyed by their action.yml names, with the same defaults. */
export const releaseSwitchInputs = {
  'releases-root': required(),
  release: optional(),
  mode: withDefault('switch', oneOf(['switch', 'rollback'])),
  /** The current and the previous release are never pruned, so 0 keeps just those two. */
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
    z
      .string()
      .trim()
      .refine((text) => !text.includes('/'), {
        message: `is not a glob for one directory name (it holds a "/"); e.g. ${DEFAULT_RELEASE_PATTERN}`,
      }),
  ),
  /** Paths under releases-root/shared linked into the new release before its hooks, one per line (`.env`, `storage/`). */
  shared: list(),
  'shared-replace': withDefault('false', boolean()),
  ...targetInputs,
  'report-path': optional(),
};

export type ReleaseSwitchInputs = z.output<z.ZodObject<typeof releaseSwitchInputs>>;

export function toConfig(inputs: ReleaseSwitchInputs): SwitchConfig {
  return {
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
