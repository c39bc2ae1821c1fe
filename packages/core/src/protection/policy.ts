import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { ArgumentError } from '../errors.js';
import { parseActorKey } from './bypass.js';
import { editDistance } from '../units/suggest.js';

/**
 * The policy: for each branch name or glob, the settings it must have (a key left out is not checked), the source
 * its required checks must come from (`app:`), the bypass actors it accepts (`allowed-bypass:`) and the severity of
 * its findings; for each deployment environment, the protection it must have. Parsed with line numbers, so an
 * invalid policy names every problem at once with its line, what is allowed and the key probably meant, and every
 * finding can point at the line that asked for it (SARIF).
 */
export const SEVERITIES = ['P0', 'P1', 'P2'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const BOOLEAN_SETTINGS = [
  'strict',
  'enforce-admins',
  'dismiss-stale-reviews',
  'require-code-owner-reviews',
  'require-linear-history',
  'allow-force-pushes',
  'allow-deletions',
  'require-signed-commits',
  'require-conversation-resolution',
] as const;
export type BooleanSetting = (typeof BOOLEAN_SETTINGS)[number];
export type SettingKey = BooleanSetting | 'required-status-checks' | 'required-approving-review-count';
export const SETTING_KEYS: readonly SettingKey[] = [
  'required-status-checks',
  'strict',
  'enforce-admins',
  'required-approving-review-count',
  ...BOOLEAN_SETTINGS.slice(2),
];

export interface Settings {
  'required-status-checks'?: string[];
  'required-approving-review-count'?: number;
  strict?: boolean;
  'enforce-admins'?: boolean;
  'dismiss-stale-reviews'?: boolean;
  'require-code-owner-reviews'?: boolean;
  'require-linear-history'?: boolean;
  'allow-force-pushes'?: boolean;
  'allow-deletions'?: boolean;
  'require-signed-commits'?: boolean;
  'require-conversation-resolution'?: boolean;
}

export interface BranchPolicy {
  /** A branch name or a glob (`release/*`). */
  pattern: string;
  severity: Severity;
  settings: Settings;
  /** Where required checks must come from: `github-actions`, an app slug, or `any`; undefined: pinned to some app. */
  app?: string;
  /** Bypass actors accepted (`role:write`, `team:42`, `app:15368`, `deploy-key`, `org-admin`, …). */
  allowedBypass: string[];
  /** The line (1-based) of the branch's key in the policy. */
  line: number;
  /** The line of each setting. */
  lines: Partial<Record<SettingKey | 'app' | 'allowed-bypass', number>>;
}

export const ENVIRONMENT_KEYS = [
  'required-reviewers',
  'prevent-self-review',
  'deployment-branches',
  'can-admins-bypass',
  'wait-timer',
] as const;
export type EnvironmentKey = (typeof ENVIRONMENT_KEYS)[number];

export interface EnvironmentSettings {
  'required-reviewers'?: number;
  'prevent-self-review'?: boolean;
  /** `protected` (protected branches only), `any`, or the branch name patterns allowed to deploy (`tag:<pattern>`: a tag pattern). */
  'deployment-branches'?: 'protected' | 'any' | string[];
  'can-admins-bypass'?: boolean;
  /** Minimum minutes. */
  'wait-timer'?: number;
}

export interface EnvironmentPolicy {
  name: string;
  severity: Severity;
  settings: EnvironmentSettings;
  line: number;
  lines: Partial<Record<EnvironmentKey, number>>;
}

export interface Policy {
  branches: BranchPolicy[];
  environments: EnvironmentPolicy[];
  /** Where it came from (a file path, or `policy` for the inline input), for messages and SARIF. */
  source: string;
}

const BRANCH_KEYS = ['severity', ...SETTING_KEYS, 'app', 'allowed-bypass'];
const ENV_KEYS = ['severity', ...ENVIRONMENT_KEYS];
const TOP_KEYS = ['branches', 'environments'];

/** ` (did you mean "x"?)` for the closest allowed key within a third of its length, else nothing. */
export function didYouMean(word: string, allowed: readonly string[]): string {
  const best = allowed
    .map((candidate) => ({ candidate, cost: editDistance(word.toLowerCase(), candidate) }))
    .sort((a, b) => a.cost - b.cost)[0];
  return best && best.cost <= Math.max(2, Math.floor(best.candidate.length / 3))
    ? ` (did you mean "${best.candidate}"?)`
    : '';
}

/** Collects every problem of a policy with its line; thrown together at the end. */
class Problems {
  readonly list: string[] = [];
  constructor(
    readonly source: string,
    readonly lineOf: (node: Node | null | undefined) => number,
  ) {}
  add(node: Node | null | undefined, problem: string): void {
    this.list.push(`${this.source} line ${this.lineOf(node)}: ${problem}`);
  }
  unknownKey(node: Node, key: string, where: string, allowed: readonly string[]): void {
    this.add(node, `unknown ${where} "${key}"${didYouMean(key, allowed)}; allowed: ${allowed.join(', ')}`);
  }
}

const keyOf = (node: unknown) => (isScalar(node) ? String(node.value) : '');
const scalarOf = (node: unknown) => (isScalar(node) ? node.value : undefined);

function severityOf(problems: Problems, node: Node | null, owner: string): Severity | undefined {
  const value = scalarOf(node);
  if (SEVERITIES.includes(value as Severity)) return value as Severity;
  problems.add(node, `severity of "${owner}" is ${JSON.stringify(value ?? null)}; allowed: ${SEVERITIES.join(', ')}`);
  return undefined;
}

function stringList(problems: Problems, node: Node | null, what: string, example: string): string[] | undefined {
  if (isSeq(node) && node.items.every((item) => typeof scalarOf(item) === 'string' && String(scalarOf(item)).trim()))
    return node.items.map((item) => String(scalarOf(item)).trim());
  problems.add(node, `${what} must be a list of ${example}`);
  return undefined;
}

function wholeNumber(problems: Problems, node: Node | null, what: string, max: number): number | undefined {
  const value = scalarOf(node);
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max) return value;
  problems.add(node, `${what} is ${JSON.stringify(value ?? null)}; allowed: a whole number from 0 to ${max}`);
  return undefined;
}

function flag(problems: Problems, node: Node | null, what: string): boolean | undefined {
  const value = scalarOf(node);
  if (typeof value === 'boolean') return value;
  problems.add(node, `${what} is ${JSON.stringify(value ?? null)}; allowed: true or false`);
  return undefined;
}

/** One setting of a branch entry into `branch`. */
function branchSetting(problems: Problems, branch: BranchPolicy, key: string, value: Node | null): void {
  const what = `${key} of "${branch.pattern}"`;
  if (key === 'severity') branch.severity = severityOf(problems, value, branch.pattern) ?? branch.severity;
  else if (key === 'app') {
    const app = scalarOf(value);
    if (typeof app === 'string' && /^[a-z0-9][a-z0-9-]*$/i.test(app.trim())) branch.app = app.trim().toLowerCase();
    else problems.add(value, `${what} is ${JSON.stringify(app ?? null)}; allowed: github-actions, an app slug, or any`);
  } else if (key === 'allowed-bypass') {
    const entries = stringList(problems, value, what, 'actors, e.g. [role:maintain, team:42, app:15368, deploy-key]');
    for (const [index, entry] of (entries ?? []).entries()) {
      const actor = parseActorKey(entry);
      if (actor) branch.allowedBypass.push(actor);
      else
        problems.add(
          (value as { items: Node[] }).items[index],
          `"${entry}" in ${what} is not an actor; allowed: role:maintain|write|admin|<id>, team:<id>, app:<id>, user:<id>, deploy-key, org-admin`,
        );
    }
  } else if (key === 'required-status-checks') {
    const checks = stringList(problems, value, what, 'check names, e.g. [build, test]');
    if (checks) branch.settings[key] = checks;
  } else if (key === 'required-approving-review-count') {
    const count = wholeNumber(problems, value, what, 6);
    if (count !== undefined) branch.settings[key] = count;
  } else {
    const enabled = flag(problems, value, what);
    if (enabled !== undefined) branch.settings[key as BooleanSetting] = enabled;
  }
}

function parseBranch(problems: Problems, keyNode: Node, body: Node | null): BranchPolicy {
  const pattern = keyOf(keyNode).trim();
  if (!pattern) problems.add(keyNode, 'a branch name or glob must be a non-empty string');
  const branch: BranchPolicy = {
    pattern,
    severity: 'P1',
    settings: {},
    allowedBypass: [],
    line: problems.lineOf(keyNode),
    lines: {},
  };
  if (body !== null && !isMap(body)) {
    problems.add(body, `the settings of "${pattern}" must be a mapping of: ${BRANCH_KEYS.join(', ')}`);
    return branch;
  }
  for (const item of isMap(body) ? body.items : []) {
    const key = keyOf(item.key);
    if (!BRANCH_KEYS.includes(key)) {
      problems.unknownKey(item.key as Node, key, `setting for "${pattern}":`, BRANCH_KEYS);
      continue;
    }
    if (key !== 'severity') branch.lines[key as keyof BranchPolicy['lines']] = problems.lineOf(item.key as Node);
    branchSetting(problems, branch, key, item.value as Node | null);
  }
  return branch;
}

function environmentSetting(problems: Problems, env: EnvironmentPolicy, key: string, value: Node | null): void {
  const what = `${key} of environment "${env.name}"`;
  if (key === 'severity') env.severity = severityOf(problems, value, env.name) ?? env.severity;
  else if (key === 'required-reviewers') {
    const count = wholeNumber(problems, value, what, 6);
    if (count !== undefined) env.settings[key] = count;
  } else if (key === 'wait-timer') {
    const minutes = wholeNumber(problems, value, what, 43_200);
    if (minutes !== undefined) env.settings[key] = minutes;
  } else if (key === 'deployment-branches') {
    const scalar = scalarOf(value);
    if (scalar === 'protected' || scalar === 'any') env.settings[key] = scalar;
    else if (isSeq(value)) {
      const list = stringList(
        problems,
        value,
        what,
        'branch name patterns (tag:<pattern> for tags), e.g. [main, release/*]',
      );
      if (list) env.settings[key] = list;
    } else
      problems.add(
        value,
        `${what} is ${JSON.stringify(scalar ?? null)}; allowed: protected, any, or a list of branch patterns`,
      );
  } else {
    const enabled = flag(problems, value, what);
    if (enabled !== undefined) env.settings[key as 'prevent-self-review' | 'can-admins-bypass'] = enabled;
  }
}

function parseEnvironment(problems: Problems, keyNode: Node, body: Node | null): EnvironmentPolicy {
  const name = keyOf(keyNode).trim();
  if (!name) problems.add(keyNode, 'an environment name must be a non-empty string');
  const env: EnvironmentPolicy = { name, severity: 'P0', settings: {}, line: problems.lineOf(keyNode), lines: {} };
  if (body !== null && !isMap(body)) {
    problems.add(body, `the settings of environment "${name}" must be a mapping of: ${ENV_KEYS.join(', ')}`);
    return env;
  }
  for (const item of isMap(body) ? body.items : []) {
    const key = keyOf(item.key);
    if (!ENV_KEYS.includes(key)) {
      problems.unknownKey(item.key as Node, key, `setting for environment "${name}":`, ENV_KEYS);
      continue;
    }
    if (key !== 'severity') env.lines[key as EnvironmentKey] = problems.lineOf(item.key as Node);
    environmentSetting(problems, env, key, item.value as Node | null);
  }
  return env;
}

/** Parses and checks a policy; `source` names it in errors (`.github/branch-policy.yml` or the input). */

export function parsePolicy(text: string, source: string): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const problems = new Problems(source, (node) => (node?.range ? lineCounter.linePos(node.range[0]).line : 1));
  const fail = (): never => {
    const count = problems.list.length;
    throw new ArgumentError(
      'policy',
      count === 1 ? problems.list[0]! : `${count} problems:\n${problems.list.join('\n')}`,
    );
  };
  for (const error of doc.errors)
    problems.list.push(
      `${source} line ${error.linePos?.[0]?.line ?? 1}: not valid YAML (${error.message.split('\n')[0]})`,
    );
  if (problems.list.length) fail();
  const root = doc.contents;
  if (!isMap(root)) {
    problems.add(
      root,
      'the policy must be a mapping with `branches:` and/or `environments:`, e.g. `branches: { main: { required-status-checks: [build] } }`',
    );
    return fail();
  }
  for (const pair of root.items)
    if (!TOP_KEYS.includes(keyOf(pair.key))) problems.unknownKey(pair.key as Node, keyOf(pair.key), 'key', TOP_KEYS);
  const section = (name: string) => {
    const node = root.get(name, true) as Node | undefined;
    if (node !== undefined && (!isMap(node) || node.items.length === 0))
      problems.add(node, `\`${name}\` must map at least one name to its settings`);
    return isMap(node) ? node.items : [];
  };
  const branches = section('branches').map((pair) =>
    parseBranch(problems, pair.key as Node, pair.value as Node | null),
  );
  const environments = section('environments').map((pair) =>
    parseEnvironment(problems, pair.key as Node, pair.value as Node | null),
  );
  if (branches.length === 0 && environments.length === 0 && problems.list.length === 0)
    problems.add(root, 'the policy names no branch and no environment; add `branches:` or `environments:`');
  if (problems.list.length) fail();
  return { branches, environments, source };
}

/** Whether a branch name matches a policy pattern: `*` within a path segment, `**` across segments. */
export function matchesPattern(pattern: string, branch: string): boolean {
  if (!/[*?[]/.test(pattern)) return pattern === branch;
  const regex = pattern
    .split(/(\*\*|\*|\?)/)
    .map((part) =>
      part === '**' ? '.*' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${regex}$`).test(branch);
}

export const isGlob = (pattern: string) => /[*?]/.test(pattern);
