import type { GitHubClient } from '../github/client.js';
import { findBranch, listBranches } from '../github/protection-queries.js';
import type { Branch } from '../github/protection-schemas.js';
import type { RepoRef } from '../github/queries.js';
import { settingsPage, type Finding, type Links } from './finding.js';
import { isGlob, matchesPattern, type BranchPolicy, type Policy } from './policy.js';

/**
 * Which branches the policy's entries stand for in one repository. An exact name is looked up directly
 * (`GET …/branches/{branch}`), never searched for in the branch list: that list is capped (5,000 branches, in
 * alphabetical order), so a `main` after 5,000 `dependabot/…` branches would otherwise go unjudged. Globs are matched
 * against the list (read only when the policy has one), each branch under the first entry that matches it, exact
 * names first.
 */
export interface PolicyBranches {
  /** Branch name, its policy entry, and the branch as read when it was looked up by name. */
  matched: [string, BranchPolicy, Branch | undefined][];
  /** Exact names GitHub answered 404 `Branch not found` for. */
  missing: BranchPolicy[];
}

export async function policyBranches(client: GitHubClient, repo: RepoRef, policy: Policy): Promise<PolicyBranches> {
  const matched = new Map<string, [BranchPolicy, Branch | undefined]>();
  const missing: BranchPolicy[] = [];
  for (const entry of policy.branches.filter((candidate) => !isGlob(candidate.pattern))) {
    if (matched.has(entry.pattern)) continue;
    const branch = await findBranch(client, repo, entry.pattern);
    if (branch) matched.set(entry.pattern, [entry, branch]);
    else missing.push(entry);
  }
  const globs = policy.branches.filter((candidate) => isGlob(candidate.pattern));
  if (globs.length) {
    const names = (await listBranches(client, repo)).map((branch) => branch.name);
    for (const entry of globs)
      for (const name of names)
        if (!matched.has(name) && matchesPattern(entry.pattern, name)) matched.set(name, [entry, undefined]);
  }
  return { matched: [...matched].map(([name, [entry, branch]]) => [name, entry, branch]), missing };
}

/**
 * A branch the policy names that the repository does not have is a violation at the branch's severity: the policy
 * means some branch to be protected, and nothing is (a typo in the policy, a default branch called `master`, a
 * branch deleted and about to be pushed again unprotected). It is never silently compliant.
 */
export function missingBranchFinding(
  repository: string,
  entry: BranchPolicy,
  policyPath: string,
  links: Links,
): Finding {
  return {
    repository,
    branch: entry.pattern,
    rule: 'branch-missing',
    status: 'violation',
    severity: entry.severity,
    wanted: `branch ${entry.pattern} exists, protected as the policy says`,
    actual: 'no such branch: the branch the policy means to protect is not judged and nothing it asks for is enforced',
    source: `GET /repos/${repository}/branches/${entry.pattern}: 404 Branch not found`,
    fix: `correct the branch name in ${policyPath} (is the default branch named otherwise?), or create the branch and protect it at ${settingsPage(links, repository)}`,
    location: { path: policyPath, line: entry.line },
  };
}
