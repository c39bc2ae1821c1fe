import { z } from 'zod';
import { optional, required, withDefault } from '#action-kit/inputs.js';
import { targetInputs } from '#action-kit/target.js';
import { DEFAULT_RELEASE_PATTERN } from '#core/release/index.js';

/** The inputs of releases, keyed by their action.yml names, with the same defaults. */
export const releasesInputs = {
  'releases-root': required(),
  /** Which directories under releases/ are releases (a glob for one name), as release-switch's input. */
  'release-pattern': withDefault(
    DEFAULT_RELEASE_PATTERN,
    z
      .string()
      .trim()
      .refine((text) => !text.includes('/'), {
        message: `is not a glob for one directory name (it holds a "/"); e.g. ${DEFAULT_RELEASE_PATTERN}`,
      }),
  ),
  ...targetInputs,
  'report-path': optional(),
};
