import type { SharedPlan } from '../release/shared.js';
import type { TargetAddress } from '../hosts/open.js';

/** One service of release-services' `services` YAML, in rollout order. */
export interface ServiceInput {
  name: string;
  target: TargetAddress;
  releasesRoot: string;
  release?: string;
  healthUrls: URL[];
  beforeSwitch: string[];
  afterSwitch: string[];
  beforeRollback: string[];
  /** Shared files and directories linked into the release before its hooks (release-switch's `shared`). */
  shared?: SharedPlan;
}

/** What a service of the list looks like, for the error messages. */
export const EXAMPLE =
  '- name: gateway\n  releases-root: /srv/gateway\n  health-urls: https://gateway.example.com/health';

/** The problem with an empty list (or none at all); the parser adds the line where there is one. */
export const emptyServices = (line = '') =>
  `${line}must be a YAML list with at least one service, in rollout order, e.g.\n${EXAMPLE}`;
