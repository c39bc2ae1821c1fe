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

/**
 * Parses the `services` YAML: a list of services, each a mapping of the keys above; every problem told at once with
 * its line (services-yaml.ts). The YAML parser is loaded on first use, once there is text to parse: an empty input
 * gets the answer the parser gives to an empty document without loading it, so a step stopped at an input error does
 * not compile it (README, Cold start; test/rollout/services-empty.test.ts checks both say the same).
 */
export async function parseServices(text: string): Promise<{ value: ServiceInput[] } | { problems: string[] }> {
  if (text === '') return { problems: [emptyServices()] };
  return (await import('./services-yaml.js')).parseServicesYaml(text);
}

/** The problem with an empty list (or none at all); the parser adds the line where there is one. */
export const emptyServices = (line = '') =>
  `${line}must be a YAML list with at least one service, in rollout order, e.g.\n${EXAMPLE}`;
