import type { CoreContext } from '../context.js';
import type { GitHubClient } from '../github/client.js';
import { GitHubHttpError } from '../github/errors.js';
import {
  getAppId,
  getBranch,
  getBranchRules,
  getClassicProtection,
  getEnvironment,
  getFileText,
  getRuleset,
  listOrgRepositories,
  listRulesets,
  putClassicProtection,
  setRequiredSignatures,
  writeRuleset,
} from '../github/protection-queries.js';
import type { Branch, ClassicProtection, Ruleset } from '../github/protection-schemas.js';
import { listWorkflows, type RepoRef } from '../github/queries.js';
import { mapConcurrent } from '../http/concurrency.js';
import { pinOf, plannedChanges, protectionUpdate } from './apply.js';
import { managedName, plannedRuleset } from './apply-rulesets.js';
import { classicView, effectiveProtection, type EffectiveProtection } from './effective.js';
import { judgeEnvironment } from './environment.js';
import { GITHUB_COM, type Finding, type Links } from './finding.js';
import { judgeBranch, worstFirst } from './judge.js';
import { policyBranches, missingBranchFinding } from './branches.js';
import { type BranchPolicy, type Policy, type Settings } from './policy.js';
import { scorecardTier, type ScorecardTier } from './scorecard.js';
import { addDisabledWorkflow, addWorkflowChecks, emptyProducers, type CheckProducers } from './workflows.js';

/**
 * The audit: for every repository (one, a list, or every non-archived one of an organisation, a bounded number at
 * a time), every branch the policy names, its effective protection, the findings, the Scorecard tier, and —
 * with `apply` — the classic protection set to what the policy wants where the token may, read back and judged
 * again. Requests per repository are constant: the branch list (only when the policy has a glob), three reads per
 * audited branch (a branch named exactly is looked up by name, never searched for in the capped list), one per
 * ruleset, the workflow list, (when checks are required) one per workflow file, and per environment the policy
 * names one plus a page per 100 deployment policies; one per app slug the policy names, for the whole run.
 */
export type RepositoryTarget = { kind: 'repo'; repo: RepoRef } | { kind: 'org'; org: string };

export interface AuditOptions {
  targets: RepositoryTarget[];
  policy: Policy;
  /** `true` (or `classic`): classic protection; `rulesets`: one managed ruleset per policy branch pattern. */
  apply: boolean | 'classic' | 'rulesets';
  /** With apply: work out and report the changes, write nothing. */
  dryRun?: boolean;
  /** Repositories audited at once. */
  concurrency?: number;
  /** Where fix links point (GITHUB_SERVER_URL); github.com by default. */
  links?: Links;
}

export interface BranchAudit {
  branch: string;
  pattern: string;
  protected: boolean;
  /** What the token could read of classic protection. */
  classic: 'readable' | 'none' | `not readable with this token (HTTP ${number})`;
  rulesets: { id: number; name: string; bypassActors: number | undefined }[];
  /** A merge queue is required (merge_queue rule). */
  mergeQueue: boolean;
  scorecard: ScorecardTier;
  /** With apply: what was changed (`setting: before → after`), or why nothing could be. */
  applied?: string[];
}

export interface RepositoryAudit {
  repository: string;
  branches: BranchAudit[];
  /** Branches the policy names that the repository does not have (each also a `branch-missing` finding). */
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
  const apps = new Map<string, number | undefined>();
  for (const slug of new Set(options.policy.branches.map((entry) => entry.app)))
    if (slug && slug !== 'any' && slug !== 'github-actions') apps.set(slug, await getAppId(client, slug));
  const run: Run = { client, options, apps, links: options.links ?? GITHUB_COM, logger: context.logger };
  const results = await mapConcurrent(repositories, options.concurrency ?? 8, (repository) =>
    auditRepository(run, repository),
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

/** What every repository of one run shares. */
interface Run {
  client: GitHubClient;
  options: AuditOptions;
  apps: ReadonlyMap<string, number | undefined>;
  links: Links;
  logger: CoreContext['logger'];
}

interface BranchState {
  effective: EffectiveProtection;
  classic: ClassicProtection | undefined;
  /** Classic protection known (read, or proven absent): apply can build on it. */
  classicKnown: boolean;
}

async function readBranch(
  client: GitHubClient,
  repo: RepoRef,
  name: string,
  rulesets: Map<number, Ruleset | undefined>,
  known?: Branch,
): Promise<BranchState> {
  const branch = known ?? (await getBranch(client, repo, name));
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

/** Two workflows with one display name: `gh run list --workflow <name>` and the API by name are ambiguous. */
function duplicateNames(repository: string, workflows: readonly { name: string; path: string }[]): Finding[] {
  const byName = new Map<string, string[]>();
  for (const workflow of workflows) byName.set(workflow.name, [...(byName.get(workflow.name) ?? []), workflow.path]);
  return [...byName]
    .filter(([, paths]) => paths.length > 1)
    .map(([name, paths]) => ({
      repository,
      branch: '*',
      subject: name,
      rule: 'duplicate-workflow-name' as const,
      status: 'violation' as const,
      severity: 'P2' as const,
      wanted: `one workflow named "${name}"`,
      actual: `${paths.length} workflows: ${paths.join(', ')}`,
      source: 'GET /repos/{owner}/{repo}/actions/workflows',
      fix: `give each workflow a distinct name: line; until then \`gh run list --workflow "${name}"\` is ambiguous, so pass the file name`,
      location: { path: paths[0]!, line: 1 },
    }));
}

/** The check names jobs can report — read only when some branch requires checks. */
async function checkProducers(
  client: GitHubClient,
  repo: RepoRef,
  workflows: readonly { path: string; state: string }[],
  states: readonly [string, BranchPolicy, BranchState][],
): Promise<CheckProducers | undefined> {
  const needChecks = states.some(([, , state]) => {
    const checks = state.effective.settings['required-status-checks'];
    return checks.known && checks.value.length > 0;
  });
  if (!needChecks) return undefined;
  const producers = emptyProducers();
  for (const workflow of workflows.filter((candidate) => candidate.path.startsWith('.github/workflows/'))) {
    const text = await getFileText(client, repo, workflow.path);
    if (text === undefined) continue;
    if (workflow.state === 'active') addWorkflowChecks(producers, workflow.path, text);
    else addDisabledWorkflow(producers, workflow.path, workflow.state, text);
  }
  return producers;
}

async function auditRepository(run: Run, repository: string): Promise<{ audit: RepositoryAudit; findings: Finding[] }> {
  const { client, options } = run;
  const repo = ref(repository);
  const result: RepositoryAudit = { repository, branches: [], missing: [], workflows: 0 };
  const findings: Finding[] = [];
  try {
    const { matched, missing } = await policyBranches(client, repo, options.policy);
    result.missing = missing.map((entry) => entry.pattern);
    findings.push(...missing.map((entry) => missingBranchFinding(repository, entry, options.policy.source, run.links)));
    const rulesets = new Map<number, Ruleset | undefined>();
    const states: [string, BranchPolicy, BranchState][] = [];
    for (const [name, entry, branch] of matched)
      states.push([name, entry, await readBranch(client, repo, name, rulesets, branch)]);
    const workflows = options.policy.branches.length ? await listWorkflows(client, repo) : [];
    result.workflows = workflows.length;
    findings.push(...duplicateNames(repository, workflows));
    const producers = await checkProducers(client, repo, workflows, states);
    const byRuleset =
      options.apply === 'rulesets' ? await applyRulesets(run, repo, states, producers, rulesets) : new Map();
    for (const [name, entry, state] of states) {
      const branch = await auditBranch(
        run,
        repo,
        { name, entry, state, producers, rulesets },
        byRuleset.get(entry.pattern),
      );
      findings.push(...branch.findings);
      result.branches.push(branch.audit);
    }
    for (const env of options.policy.environments) {
      const read = await getEnvironment(client, repo, env.name);
      findings.push(...judgeEnvironment(repository, env, options.policy.source, read, run.links));
    }
  } catch (error) {
    if (!(error instanceof Error) || !('name' in error) || !/GitHub/.test(error.name)) throw error;
    result.error = error.message;
    run.logger.warning(`${repository}: not audited: ${error.message}`);
  }
  return { audit: result, findings };
}

interface BranchJob {
  name: string;
  entry: BranchPolicy;
  state: BranchState;
  producers: CheckProducers | undefined;
  rulesets: Map<number, Ruleset | undefined>;
}

const judgeWith = (run: Run, repo: RepoRef, job: Omit<BranchJob, 'rulesets'>) =>
  judgeBranch({
    repository: `${repo.owner}/${repo.repo}`,
    branch: job.name,
    policy: job.entry,
    policyPath: run.options.policy.source,
    effective: job.state.effective,
    producers: job.producers,
    links: run.links,
    apps: run.apps,
  });

/** Whether apply has something to do: a violation of a setting the policy names (or of protection itself). */
const fixable = (entry: BranchPolicy, findings: readonly Finding[]) => {
  const rules = new Set(['protected', 'required-checks-empty', 'check-app', ...Object.keys(entry.settings)]);
  return findings.some((finding) => finding.status === 'violation' && rules.has(finding.rule));
};

/** One branch: judged; with classic apply and a violation apply can fix, written, read back and judged again. */
async function auditBranch(
  run: Run,
  repo: RepoRef,
  job: BranchJob,
  byRuleset: string[] | undefined,
): Promise<{ audit: BranchAudit; findings: Finding[] }> {
  let current = job.state;
  let findings = judgeWith(run, repo, job);
  let applied = byRuleset;
  const classic = run.options.apply === true || run.options.apply === 'classic';
  if (classic && fixable(job.entry, findings)) {
    applied = await applyBranch(run, repo, job, current);
    if (!run.options.dryRun && applied.some((line) => !line.startsWith('not applied'))) {
      current = await readBranch(run.client, repo, job.name, job.rulesets);
      findings = judgeWith(run, repo, { ...job, state: current });
    }
  }
  const audit: BranchAudit = {
    branch: job.name,
    pattern: job.entry.pattern,
    protected: current.effective.protected,
    classic: classicLabel(current.effective),
    rulesets: current.effective.rulesets.map(({ id, name, bypassActors }) => ({ id, name, bypassActors })),
    mergeQueue: current.effective.mergeQueue,
    scorecard: scorecardTier(current.effective),
    ...(applied ? { applied } : {}),
  };
  return { audit, findings };
}

/**
 * `apply: rulesets`: for every policy pattern with a branch apply can fix, the managed ruleset
 * `deploy-gates: <pattern>` created or updated (the diff logged first; nothing written on a dry run), then the
 * branches of those patterns read again (in `states`). Returns what was (or would be) changed, by pattern.
 */
async function applyRulesets(
  run: Run,
  repo: RepoRef,
  states: [string, BranchPolicy, BranchState][],
  producers: CheckProducers | undefined,
  rulesets: Map<number, Ruleset | undefined>,
): Promise<Map<string, string[]>> {
  const entries = new Map<string, BranchPolicy>();
  for (const [name, entry, state] of states)
    if (fixable(entry, judgeWith(run, repo, { name, entry, state, producers }))) entries.set(entry.pattern, entry);
  const applied = new Map<string, string[]>();
  if (entries.size === 0) return applied;
  const dry = run.options.dryRun === true;
  try {
    const existing = await listRulesets(run.client, repo);
    for (const entry of entries.values()) {
      const id = existing.find((set) => set.name === managedName(entry.pattern))?.id;
      const current = id === undefined ? undefined : await getRuleset(run.client, repo, id);
      const { body, diff } = plannedRuleset(entry, current, pinOf(entry.app, run.apps));
      run.logger.info(
        `${repo.owner}/${repo.repo} ${body.name}: ${dry ? 'would write' : 'writing'}: ${diff.join('; ') || 'nothing to change'}`,
      );
      if (!dry && diff.length) await writeRuleset(run.client, repo, body as unknown as Record<string, unknown>, id);
      applied.set(
        entry.pattern,
        diff.length ? diff.map((line) => (dry ? `dry run: ${line}` : line)) : ['no rule needed a change'],
      );
    }
  } catch (error) {
    if (!(error instanceof GitHubHttpError && (error.status === 403 || error.status === 404))) throw error;
    const line = `not applied: the token may not change rulesets (HTTP ${error.status}); it needs Administration: write`;
    for (const entry of entries.values()) applied.set(entry.pattern, [line]);
    return applied;
  }
  if (dry) return applied;
  rulesets.clear();
  for (const state of states)
    if (applied.has(state[1].pattern)) state[2] = await readBranch(run.client, repo, state[0], rulesets);
  return applied;
}

/**
 * Sets classic protection as wanted where the token may: the current protection with only the policy's settings
 * changed, the planned changes logged (and reported) before anything is written. Returns what changed, or why
 * nothing could.
 */
async function applyBranch(run: Run, repo: RepoRef, job: BranchJob, state: BranchState): Promise<string[]> {
  if (!state.classicKnown)
    return ['not applied: classic protection is not readable with this token (needs Administration: read and write)'];
  const wanted: Settings = job.entry.settings;
  const before = state.effective.settings;
  const body = protectionUpdate(state.classic, wanted, pinOf(job.entry.app, run.apps));
  const changes = plannedChanges(before, wanted, body);
  const where = `${repo.owner}/${repo.repo} ${job.name}`;
  const dry = run.options.dryRun === true;
  run.logger.info(
    `${where}: ${dry ? 'would write' : 'writing'} classic protection: ${changes.join('; ') || 'app pins of required checks'}`,
  );
  if (dry) return changes.map((line) => `dry run: ${line}`);
  try {
    await putClassicProtection(run.client, repo, job.name, body);
    const signatures = wanted['require-signed-commits'];
    const was = before['require-signed-commits'];
    if (signatures !== undefined && (!was.known || was.value !== signatures))
      await setRequiredSignatures(run.client, repo, job.name, signatures);
  } catch (error) {
    if (error instanceof GitHubHttpError && (error.status === 403 || error.status === 404))
      return [
        `not applied: the token may not change branch protection (HTTP ${error.status}); it needs Administration: write`,
      ];
    throw error;
  }
  return changes.length ? changes : ['no setting needed a change in classic protection'];
}
