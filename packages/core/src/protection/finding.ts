import type { EffectiveProtection } from './effective.js';
import type { BranchPolicy, EnvironmentKey, SettingKey, Severity } from './policy.js';
import type { CheckProducers } from './workflows.js';

/**
 * Findings: what the policy wants of a branch against what it has. A setting is a `violation` (known and not as
 * wanted), `unknown` (this token cannot read it: never a violation, never compliant) or `ok`.
 */
export type FindingStatus = 'violation' | 'unknown' | 'ok';

export type Rule =
  | SettingKey
  | 'protected'
  | 'required-checks-empty'
  | 'check-without-job'
  | 'duplicate-workflow-name'
  | 'branch-missing'
  | 'bypass'
  | 'check-unpinned'
  | 'check-app'
  | 'check-not-on-merge-group'
  | 'environment-missing'
  | `environment-${EnvironmentKey}`;

export interface Finding {
  repository: string;
  /** The branch, or `environment <name>` for a deployment environment. */
  branch: string;
  /** What within the rule it is about (a bypass actor, a check), so SARIF tells findings of one rule apart. */
  subject?: string;
  rule: Rule;
  status: FindingStatus;
  severity: Severity;
  wanted: string;
  actual: string;
  /** Where the actual value was learned (or why it is unknown). */
  source: string;
  /** The settings page or API call that fixes it. */
  fix: string;
  /** The policy line that asked for it (SARIF location), or a workflow file. */
  location: { path: string; line: number };
}

export const show = (value: unknown): string =>
  Array.isArray(value) ? (value.length ? value.join(', ') : 'none') : String(value);

/** Where fix links point: GITHUB_SERVER_URL (GitHub Enterprise Server has its own host). */
export interface Links {
  web: string;
}
export const GITHUB_COM: Links = { web: 'https://github.com' };

export function settingsPage(links: Links, repository: string): string {
  return `${links.web.replace(/\/+$/, '')}/${repository}/settings/branches`;
}

/** Everything one branch is judged with. */
export interface BranchContext {
  repository: string;
  branch: string;
  policy: BranchPolicy;
  policyPath: string;
  effective: EffectiveProtection;
  /** The check names workflow jobs can report (when some branch requires checks). */
  producers: CheckProducers | undefined;
  links: Links;
  /** App ids of the slugs named by `app:` (undefined: no such app). */
  apps: ReadonlyMap<string, number | undefined>;
}
