import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { ArgumentError } from '../errors.js';

/**
 * The branch policy: for each branch name or glob, the settings it must have (a key left out is not checked) and
 * the severity of its findings. Parsed with line numbers, so an invalid policy names the line and what is allowed,
 * and every finding can point at the line that asked for it (SARIF).
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
  /** The line (1-based) of the branch's key in the policy. */
  line: number;
  /** The line of each setting. */
  lines: Partial<Record<SettingKey, number>>;
}

export interface Policy {
  branches: BranchPolicy[];
  /** Where it came from (a file path, or `policy` for the inline input), for messages and SARIF. */
  source: string;
}

const ALLOWED_KEYS = ['severity', ...SETTING_KEYS];

/** Parses and checks a policy; `source` names it in errors (`.github/branch-policy.yml` or the input). */
// eslint-disable-next-line max-lines-per-function -- TODO(issue 19): issue-21 is splitting it
export function parsePolicy(text: string, source: string): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const lineOf = (node: Node | null | undefined) => (node?.range ? lineCounter.linePos(node.range[0]).line : 1);
  const fail = (node: Node | null | undefined, problem: string): never => {
    throw new ArgumentError('policy', `${source} line ${lineOf(node)}: ${problem}`);
  };
  if (doc.errors.length > 0) {
    const error = doc.errors[0]!;
    throw new ArgumentError(
      'policy',
      `${source} line ${error.linePos?.[0]?.line ?? 1}: not valid YAML (${error.message.split('\n')[0]})`,
    );
  }
  const root = doc.contents;
  if (!isMap(root))
    return fail(
      root,
      'the policy must be a mapping with a `branches:` key, e.g. `branches: { main: { required-status-checks: [build] } }`',
    );
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (key !== 'branches')
      fail(pair.key as Node, `unknown key "${key}"; the only top-level key allowed is \`branches\``);
  }
  const branchesNode = root.get('branches', true) as Node | undefined;
  if (!isMap(branchesNode) || branchesNode.items.length === 0)
    return fail(branchesNode ?? root, '`branches` must map at least one branch name or glob to its settings');
  const branches: BranchPolicy[] = [];
  for (const pair of branchesNode.items) {
    const keyNode = pair.key as Node;
    const pattern = isScalar(keyNode) ? String(keyNode.value).trim() : '';
    if (!pattern) fail(keyNode, 'a branch name or glob must be a non-empty string');
    const body = pair.value as Node | null;
    if (body !== null && !isMap(body))
      fail(body ?? keyNode, `the settings of "${pattern}" must be a mapping of: ${ALLOWED_KEYS.join(', ')}`);
    const branch: BranchPolicy = { pattern, severity: 'P1', settings: {}, line: lineOf(keyNode), lines: {} };
    for (const item of isMap(body) ? body.items : []) {
      const settingNode = item.key as Node;
      const key = isScalar(settingNode) ? String(settingNode.value) : '';
      const value = item.value as Node | null;
      if (!ALLOWED_KEYS.includes(key))
        fail(settingNode, `unknown setting "${key}" for "${pattern}"; allowed: ${ALLOWED_KEYS.join(', ')}`);
      const scalar = isScalar(value) ? value.value : undefined;
      if (key === 'severity') {
        if (!SEVERITIES.includes(scalar as Severity))
          fail(
            value ?? settingNode,
            `severity of "${pattern}" is ${JSON.stringify(scalar ?? null)}; allowed: ${SEVERITIES.join(', ')}`,
          );
        branch.severity = scalar as Severity;
        continue;
      }
      const setting = key as SettingKey;
      branch.lines[setting] = lineOf(settingNode);
      if (setting === 'required-status-checks') {
        if (
          !isSeq(value) ||
          !value.items.every((check) => isScalar(check) && typeof check.value === 'string' && check.value.trim() !== '')
        ) {
          fail(
            value ?? settingNode,
            `required-status-checks of "${pattern}" must be a list of check names, e.g. [build, test]`,
          );
        }
        branch.settings[setting] = (value as unknown as { items: { value: string }[] }).items.map((check) =>
          check.value.trim(),
        );
      } else if (setting === 'required-approving-review-count') {
        if (typeof scalar !== 'number' || !Number.isInteger(scalar) || scalar < 0 || scalar > 6)
          fail(
            value ?? settingNode,
            `required-approving-review-count of "${pattern}" is ${JSON.stringify(scalar ?? null)}; allowed: a whole number from 0 to 6`,
          );
        branch.settings[setting] = scalar as number;
      } else {
        if (typeof scalar !== 'boolean')
          fail(
            value ?? settingNode,
            `${setting} of "${pattern}" is ${JSON.stringify(scalar ?? null)}; allowed: true or false`,
          );
        branch.settings[setting] = scalar as boolean;
      }
    }
    branches.push(branch);
  }
  return { branches, source };
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
