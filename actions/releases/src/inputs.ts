import { checkedBy, optional, required, withDefault } from '#action-kit/inputs.js';
import { targetInputs } from '#action-kit/target.js';
import { DEFAULT_RELEASE_PATTERN, releasePatternProblem } from '#core/release/index.js';

/** The inputs of releases, keyed by their action.yml names, with the same defaults. */
export const releasesInputs = {
  'releases-root': required('/var/www/app'),
  /** Which directories under releases/ are releases (a glob for one name), as release-switch's input. */
  'release-pattern': withDefault(
    DEFAULT_RELEASE_PATTERN,
    checkedBy((text) => {
      const problem = releasePatternProblem(text);
      return problem ? { problem } : { value: text };
    }),
  ),
  ...targetInputs,
  'report-path': optional(),
};
