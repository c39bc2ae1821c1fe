import { z } from 'zod';
import { oneOf, optional, positiveDuration, required, withDefault } from '#action-kit/inputs.js';
import { targetInputs } from '#action-kit/target.js';
import { PRESETS } from '#core/gates/index.js';

/** The inputs of pre-switch-gates, keyed by their action.yml names, with the same defaults. */
export const preSwitchGatesInputs = {
  'release-dir': required('${{ steps.verify.outputs.release-dir }}'),
  preset: withDefault('none', oneOf(PRESETS)),
  /** Kept as text: parsed with its line numbers (and its secrets masked first) by the action. */
  gates: z.string(),
  'gates-file': optional(),
  layer: withDefault(
    'pre-switch',
    z
      .string()
      .trim()
      .regex(/^[\w .:/-]{1,40}$/, {
        message: 'must be a short label (letters, digits, space, . _ : / -), e.g. pre-bundle, pre-switch or production',
      }),
  ),
  timeout: withDefault('60s', positiveDuration()),
  ...targetInputs,
  'report-path': optional(),
};

export type PreSwitchGatesInputs = z.output<z.ZodObject<typeof preSwitchGatesInputs>>;
