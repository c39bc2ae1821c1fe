import type { CoreContext } from '../context.js';
import type { GitHubClient } from '../github/client.js';
import { GitHubHttpError } from '../github/errors.js';
import {
  getBranch,
  getBranchRules,
  getClassicProtection,
  getFileText,
  getRuleset,
  listBranches,
  listOrgRepositories,
  putClassicProtection,
  setRequiredSignatures,
  type ClassicProtectionUpdate,
} from '../github/protection-queries.js';
import type { ClassicProtection, Ruleset } from '../github/protection-schemas.js';
import { listWorkflows, type RepoRef } from '../github/queries.js';
import { mapConcurrent } from '../http/concurrency.js';
import { classicView, effectiveProtection, type EffectiveProtection } from './effective.js';
import { judgeBranch, worstFirst, type Finding } from './judge.js';
import { isGlob, matchesPattern, type BranchPolicy, type Policy, type Settings } from './policy.js';
import { scorecardTier, type ScorecardTier } from './scorecard.js';
import { addWorkflowChecks, emptyProducers, type CheckProducers } from './workflows.js';

/**
 * The audit: for every repository (one, a list, or every non-archived one of an organisation, a bounded number at
 * a time), every branch the policy names, its effective protection, the findings, the Scorecard tier, and —
 * with `apply` — the classic protection set to what the policy wants where the token may, read back and judged
 * again. Requests per repository are constant: the branch list, three reads per audited branch, one per
 * ruleset, the workflow list and (when checks are required) one per workflow file.
 */
export type RepositoryTarget = { kind: 'repo'; repo: RepoRef } | { kind: 'org'; org: string };

export interface AuditOptions {
  targets: RepositoryTarget[];
  policy: Policy;
  apply: boolean;
  /** Repositories audited at once. */
  concurrency?: number;
}

export interface BranchAudit {
  branch: string;
  pattern: string;
  protected: boolean;
  /** What the token could read of classic protection. */
  classic: 'readable' | 'none' | `not readable with this token (HTTP ${number})`;
  rulesets: { id: number; name: string; bypassActors: number | undefined }[];
  scorecard: ScorecardTier;
  /** With apply: what was changed (`setting: before → after`), or why nothing could be. */
  applied?: string[];
}

export interface RepositoryAudit {
  repository: string;
  branches: BranchAudit[];
  /** Branches the policy names that the repository does not have. */
  missing: string[];
  workflows: number;
  /** Set when the repository could not be audited at all. */
  error?: string;
}

export interface AuditReport {
  policy: string;
  repositories: RepositoryAudit[];
  findings: Finding[];
  counts: { p0: number; p1: number; p2: number; unknown: number; ok: number };
  /** Every checked setting known and as wanted. */
  compliant: boolean;
}

const ref = (full: string): RepoRef => {
  const [owner = '', repo = ''] = full.split('/');
  return { owner, repo };
};

/** The repositories to audit, in order, each once. */
export async function resolveTargets(client: GitHubClient, targets: readonly RepositoryTarget[]): Promise<string[]> {
  const names: string[] = [];
  for (const target of targets) {
    if (target.kind === 'repo') names.push(`${target.repo.owner}/${target.repo.repo}`);
    else names.push(...(await listOrgRepositories(client, target.org)).map((repo) => repo.full_name));
  }
  return [...new Set(names)];
}

export async function audit(
  client: GitHubClient,
  options: AuditOptions,
  context: Pick<CoreContext, 'logger'>,
): Promise<AuditReport> {
  const repositories = await resolveTargets(client, options.targets);
  context.logger.info(
    `Auditing ${repositories.length} repositor${repositories.length === 1 ? 'y' : 'ies'} against ${options.policy.source}`,
  );
  const results = await mapConcurrent(repositories, options.concurrency ?? 8, (repository) =>
    auditRepository(client, repository, options, context),
  );
  const repos = results.map((result) => result.audit);
  const findings = worstFirst(results.flatMap((result) => result.findings));
  const violations = findings.filter((finding) => finding.status === 'violation');
  const counts = {
    p0: violations.filter((finding) => finding.severity === 'P0').length,
    p1: violations.filter((finding) => finding.severity === 'P1').length,
    p2: violations.filter((finding) => finding.severity === 'P2').length,
    unknown: findings.filter((finding) => finding.status === 'unknown').length,
    ok: findings.filter((finding) => finding.status === 'ok').length,
  };
  const compliant = violations.length === 0 && counts.unknown === 0 && repos.every((repo) => !repo.error);
  return { policy: options.policy.source, repositories: repos, findings, counts, compliant };
}

/** Which policy entry each existing branch falls under: exact names first, then globs in policy order. */
function assign(policy: Policy, branches: readonly string[]): { matched: [string, BranchPolicy][]; missing: string[] } {
  const matched = new Map<string, BranchPolicy>();
  const missing: string[] = [];
  for (const entry of policy.branches.filter((candidate) => !isGlob(candidate.pattern))) {
    if (branches.includes(entry.pattern)) matched.set(entry.pattern, entry);
    else missing.push(entry.pattern);
  }
  for (const entry of policy.branches.filter((candidate) => isGlob(candidate.pattern))) {
    for (const name of branches)
      if (!matched.has(name) && matchesPattern(entry.pattern, name)) matched.set(name, entry);
  }
  return { matched: [...matched], missing };
}

interface BranchState {
  effective: EffectiveProtection;
  classic: ClassicProtection | undefined;
  /** Classic protection known (read, or proven absent by the branch's flag): apply can build on it. */
  classicKnown: boolean;
}

async function readBranch(
  client: GitHubClient,
  repo: RepoRef,
  name: string,
  rulesets: Map<number, Ruleset | undefined>,
): Promise<BranchState> {
  const branch = await getBranch(client, repo, name);
  const rules = await getBranchRules(client, repo, name);
  const read = await getClassicProtection(client, repo, name);
  for (const id of new Set(rules.map((rule) => rule.ruleset_id).filter((id): id is number => id !== undefined))) {
    if (rulesets.has(id)) continue;
    rulesets.set(
      id,
      await getRuleset(client, repo, id).catch((error: unknown) => {
        // An organisation's ruleset may not be readable from the repository: its bypass actors are then unknown.
        if (error instanceof GitHubHttpError && (error.status === 403 || error.status === 404)) return undefined;
        throw error;
      }),
    );
  }
  const view = classicView(branch, read);
  return {
    effective: effectiveProtection(view, rules, rulesets),
    classic: read.kind === 'protection' ? read.protection : undefined,
    classicKnown: view.kind !== 'summary',
  };
}

function classicLabel(effective: EffectiveProtection): BranchAudit['classic'] {
  const view = effective.classic;
  return view.kind === 'full'
    ? 'readable'
    : view.kind === 'none'
      ? 'none'
      : `not readable with this token (HTTP ${view.status})`;
}

// eslint-disable-next-line max-lines-per-function -- TODO(issue 19): issue-21 is splitting it
async function auditRepository(
  client: GitHubClient,
  repository: string,
  options: AuditOptions,
  context: Pick<CoreContext, 'logger'>,
): Promise<{ audit: RepositoryAudit; findings: Finding[] }> {
  const repo = ref(repository);
  const result: RepositoryAudit = { repository, branches: [], missing: [], workflows: 0 };
  const findings: Finding[] = [];
  try {
    const { matched, missing } = assign(
      options.policy,
      (await listBranches(client, repo)).map((branch) => branch.name),
    );
    result.missing = missing;
    const rulesets = new Map<number, Ruleset | undefined>();
    const states: [string, BranchPolicy, BranchState][] = [];
    for (const [name, entry] of matched) states.push([name, entry, await readBranch(client, repo, name, rulesets)]);

    const workflows = await listWorkflows(client, repo);
    result.workflows = workflows.length;
    const byName = new Map<string, string[]>();
    for (const workflow of workflows) byName.set(workflow.name, [...(byName.get(workflow.name) ?? []), workflow.path]);
    for (const [name, paths] of byName) {
      if (paths.length < 2) continue;
      findings.push({
        repository,
        branch: '*',
        rule: 'duplicate-workflow-name',
        status: 'violation',
        severity: 'P2',
        wanted: `one workflow named "${name}"`,
        actual: `${paths.length} workflows: ${paths.join(', ')}`,
        source: 'GET /repos/{owner}/{repo}/actions/workflows',
        fix: `give each workflow a distinct name: line; until then \`gh run list --workflow "${name}"\` is ambiguous, so pass the file name`,
        location: { path: paths[0]!, line: 1 },
      });
    }
    // The jobs' check names are needed only when some branch requires checks.
    const needChecks = states.some(([, , state]) => {
      const checks = state.effective.settings['required-status-checks'];
      return checks.known && checks.value.length > 0;
    });
    let producers: CheckProducers | undefined;
    if (needChecks) {
      producers = emptyProducers();
      for (const workflow of workflows.filter((candidate) => candidate.path.startsWith('.github/workflows/'))) {
        const text = await getFileText(client, repo, workflow.path);
        if (text !== undefined) addWorkflowChecks(producers, workflow.path, text);
      }
    }

    for (const [name, entry, state] of states) {
      let current = state;
      let branchFindings = judgeBranch(repository, name, entry, options.policy.source, current.effective, producers);
      let applied: string[] | undefined;
      if (
        options.apply &&
        branchFindings.some((finding) => finding.status === 'violation' && finding.rule !== 'check-without-job')
      ) {
        applied = await applyBranch(client, repo, name, entry.settings, current);
        if (applied.some((line) => !line.startsWith('not applied'))) {
          current = await readBranch(client, repo, name, rulesets);
          branchFindings = judgeBranch(repository, name, entry, options.policy.source, current.effective, producers);
        }
      }
      findings.push(...branchFindings);
      result.branches.push({
        branch: name,
        pattern: entry.pattern,
        protected: current.effective.protected,
        classic: classicLabel(current.effective),
        rulesets: current.effective.rulesets,
        scorecard: scorecardTier(current.effective),
        ...(applied ? { applied } : {}),
      });
    }
  } catch (error) {
    if (!(error instanceof Error) || !('name' in error) || !/GitHub/.test(error.name)) throw error;
    result.error = error.message;
    context.logger.warning(`${repository}: not audited: ${error.message}`);
  }
  return { audit: result, findings };
}

/** The classic protection body: what is there now, with the policy's settings laid over it. */
export function protectionUpdate(current: ClassicProtection | undefined, wanted: Settings): ClassicProtectionUpdate {
  const checks = current?.required_status_checks;
  const existingChecks = checks?.checks?.map((check) => check.context) ?? checks?.contexts ?? [];
  const wantChecks = wanted['required-status-checks'];
  const contexts = [...new Set([...existingChecks, ...(wantChecks ?? [])])];
  const strict = wanted.strict ?? checks?.strict ?? false;
  const reviews = current?.required_pull_request_reviews;
  const wantsReviews = ['required-approving-review-count', 'dismiss-stale-reviews', 'require-code-owner-reviews'].some(
    (key) => key in wanted,
  );
  const restrictions = current?.restrictions as
    { users?: { login: string }[]; teams?: { slug: string }[]; apps?: { slug: string }[] } | undefined;
  return {
    required_status_checks: contexts.length > 0 || wanted.strict !== undefined ? { strict, contexts } : null,
    enforce_admins: wanted['enforce-admins'] ?? current?.enforce_admins?.enabled ?? false,
    required_pull_request_reviews:
      reviews || wantsReviews
        ? {
            dismiss_stale_reviews: wanted['dismiss-stale-reviews'] ?? reviews?.dismiss_stale_reviews ?? false,
            require_code_owner_reviews:
              wanted['require-code-owner-reviews'] ?? reviews?.require_code_owner_reviews ?? false,
            required_approving_review_count:
              wanted['required-approving-review-count'] ?? reviews?.required_approving_review_count ?? 1,
            require_last_push_approval: reviews?.require_last_push_approval ?? false,
          }
        : null,
    restrictions: restrictions
      ? {
          users: (restrictions.users ?? []).map((user) => user.login),
          teams: (restrictions.teams ?? []).map((team) => team.slug),
          apps: (restrictions.apps ?? []).map((app) => app.slug),
        }
      : null,
    required_linear_history: wanted['require-linear-history'] ?? current?.required_linear_history?.enabled ?? false,
    allow_force_pushes: wanted['allow-force-pushes'] ?? current?.allow_force_pushes?.enabled ?? false,
    allow_deletions: wanted['allow-deletions'] ?? current?.allow_deletions?.enabled ?? false,
    required_conversation_resolution:
      wanted['require-conversation-resolution'] ?? current?.required_conversation_resolution?.enabled ?? false,
  };
}

/** Sets classic protection as wanted where the token may; returns what changed, or why nothing could. */
async function applyBranch(
  client: GitHubClient,
  repo: RepoRef,
  branch: string,
  wanted: Settings,
  state: BranchState,
): Promise<string[]> {
  if (!state.classicKnown)
    return ['not applied: classic protection is not readable with this token (needs Administration: read and write)'];
  const before = state.effective.settings;
  const body = protectionUpdate(state.classic, wanted);
  try {
    await putClassicProtection(client, repo, branch, body);
    const signatures = wanted['require-signed-commits'];
    if (
      signatures !== undefined &&
      (!before['require-signed-commits'].known || before['require-signed-commits'].value !== signatures)
    ) {
      await setRequiredSignatures(client, repo, branch, signatures);
    }
  } catch (error) {
    if (error instanceof GitHubHttpError && (error.status === 403 || error.status === 404))
      return [
        `not applied: the token may not change branch protection (HTTP ${error.status}); it needs Administration: write`,
      ];
    throw error;
  }
  const changed: string[] = [];
  for (const [key, value] of Object.entries(wanted) as [keyof Settings, unknown][]) {
    const was = before[key];
    const shown = (v: unknown) => (Array.isArray(v) ? `[${v.join(', ')}]` : String(v));
    if (!was.known || shown(was.value) !== shown(value))
      changed.push(
        `${key}: ${was.known ? shown(was.value) : 'unknown'} → ${shown(key === 'required-status-checks' ? body.required_status_checks?.contexts : value)}`,
      );
  }
  return changed.length ? changed : ['no setting needed a change in classic protection'];
}
