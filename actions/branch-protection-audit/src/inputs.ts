import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { requireToken, type GitHubFacts } from '#action-kit/github.js';
import { boolean, credential, InputError, integer, lines, oneOf, optional, withDefault } from '#action-kit/inputs.js';
import { parseRepository } from '#core/github/index.js';
import type { Links, Policy, RepositoryTarget } from '#core/protection/index.js';

const NAME = /^[A-Za-z0-9_.-]+$/;

/** `owner/repo` or `org:<name>`, one per line. */
const repositories = () =>
  lines<RepositoryTarget>((line) => {
    if (line.startsWith('org:')) {
      const org = line.slice(4).trim();
      return NAME.test(org)
        ? { value: { kind: 'org', org } }
        : { problem: `"${line}" is not org:<name>, e.g. org:octo-org` };
    }
    const repo = parseRepository(line);
    return repo
      ? { value: { kind: 'repo', repo } }
      : { problem: `"${line}" is not owner/repo (e.g. octo-org/app) or org:<name>` };
  });

/** The inputs of branch-protection-audit, keyed by their action.yml names, with the same defaults. */
export const branchProtectionAuditInputs = {
  policy: optional(),
  'policy-file': withDefault('.github/branch-policy.yml', z.string().trim()),
  repositories: repositories(),
  'fail-on': withDefault('P0', oneOf(['P0', 'P1', 'P2', 'never'] as const)),
  'report-path': optional(),
  'sarif-path': optional(),
  apply: withDefault('false', oneOf(['false', 'true', 'classic', 'rulesets'] as const)),
  'dry-run': withDefault('false', boolean()),
  concurrency: withDefault('8', integer({ min: 1, max: 32 })),
  'etag-cache': optional(),
  'github-token': credential('${{ github.token }}'),
};

/** The apply input as the audit takes it: `true` is classic protection. */
export const applyMode = (value: BranchProtectionAuditInputs['apply']) =>
  value === 'false' ? false : value === 'rulesets' ? ('rulesets' as const) : ('classic' as const);

export type BranchProtectionAuditInputs = z.output<z.ZodObject<typeof branchProtectionAuditInputs>>;

/** The policy (inline, else the file), the repositories (else GITHUB_REPOSITORY) and the token (else GITHUB_TOKEN). */
export async function resolveInputs(
  inputs: BranchProtectionAuditInputs,
  github: GitHubFacts,
  workspace: string,
): Promise<{ policy: Policy; targets: RepositoryTarget[]; token: string; links: Links }> {
  // The protection domain (policy, audit, SARIF) is loaded once the inputs are good: not before the first line.
  const { parsePolicy } = await import('#core/protection/index.js');
  let policy: Policy;
  if (inputs.policy) policy = parsePolicy(inputs.policy, 'policy');
  else {
    const file = inputs['policy-file'];
    const path = isAbsolute(file) ? file : join(workspace, file);
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined)
      throw new InputError(
        'policy-file',
        `${file} was not found in the workspace (${workspace}); check out the repository first (actions/checkout) or pass the policy inline with the policy input`,
      );
    policy = parsePolicy(text, file);
  }
  let targets = inputs.repositories;
  if (targets.length === 0) {
    if (!github.repository)
      throw new InputError('repositories', 'is empty and GITHUB_REPOSITORY is not set; pass owner/repo or org:<name>');
    targets = [{ kind: 'repo', repo: github.repository }];
  }
  const token = requireToken(github, 'Administration: read');
  // Fix links point at the server the workflow runs on (GitHub Enterprise Server has its own host).
  return { policy, targets, token, links: { web: github.serverUrl } };
}
