import { z } from 'zod';
import { boolean, duration, integer, oneOf, optional, required, withDefault } from '#core/inputs/schema.js';
import { parseList } from '#core/inputs/lists.js';
import { targetInputs } from '#core/hosts/inputs.js';
import { DEFAULT_RELEASE_PATTERN, globToRegExp, type SwitchConfig } from '#core/release/switch.js';

/** One command per line; blank lines and `#` comment lines are dropped. */
const commands = () => z.string().transform((text) => parseList(text));

/** The inputs of release-switch, keyed by their action.yml names, with the same defaults. */
export const releaseSwitchInputs = {
  'releases-root': required(),
  release: optional(),
  mode: withDefault('switch', oneOf(['switch', 'rollback'])),
  /** The current and the previous release are never pruned, so 0 keeps just those two. */
  keep: withDefault('5', integer({ min: 0, max: 1000 })),
  'before-switch': commands(),
  'after-switch': commands(),
  'rollback-on-failure': withDefault('true', boolean()),
  'hook-timeout': withDefault(
    '10m',
    duration().refine((ms) => ms > 0, { message: 'must be longer than 0ms' }),
  ),
  /** How long to wait for another run's deploy lock on releases-root; 0 tries once. */
  'lock-timeout': withDefault('5m', duration()),
  /** Which directories under releases/ are releases (a glob for one name); only these are pruned. */
  'release-pattern': withDefault(
    DEFAULT_RELEASE_PATTERN,
    z
      .string()
      .trim()
      .refine((text) => !text.includes('/') && globToRegExp(text) !== undefined, {
        message: 'is not a glob for one directory name (no "/", every "[" closed)',
      }),
  ),
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
  };
}
