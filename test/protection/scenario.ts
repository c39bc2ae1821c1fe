import {
  GitHubDouble,
  type ClassicSpec,
  type EnvironmentSpec,
  type RulesetSpec,
} from '../support/github-double/index.js';

/** A repository in the double: branches with classic protection, rulesets, workflows with their files. */
export interface RepoScenario {
  branches: { name: string; classic?: ClassicSpec }[];
  rulesets?: RulesetSpec[];
  workflows?: {
    name: string;
    file: string;
    text: string;
    state?: 'active' | 'disabled_manually' | 'disabled_inactivity';
  }[];
  environments?: EnvironmentSpec[];
  archived?: boolean;
}

export const BUILD_WORKFLOW = `name: Build
on: [push, pull_request]
jobs:
  build:
    runs-on: ubuntu-latest
    steps: [{ run: make }]
  test:
    name: test
    strategy: { matrix: { node: [20, 24] } }
    runs-on: ubuntu-latest
    steps: [{ run: make test }]
`;

export function seed(double: GitHubDouble, fullName: string, scenario: RepoScenario): void {
  const state = double.repo(fullName);
  state.branches.push(
    ...scenario.branches.map((branch) => ({
      ...branch,
      classic: branch.classic ? structuredClone(branch.classic) : undefined,
    })),
  );
  state.rulesets.push(...(scenario.rulesets ?? []));
  state.archived = scenario.archived;
  state.environments.push(...(scenario.environments ?? []));
  (scenario.workflows ?? []).forEach((workflow, index) => {
    state.workflows.push({ id: 100 + index, name: workflow.name, file: workflow.file, state: workflow.state });
    state.files[`.github/workflows/${workflow.file}`] = workflow.text;
  });
}

/** The GitHub Actions app: required checks pinned to it cannot be forged with a commit status. */
export const ACTIONS_APP = 15368;
const pinned = (...checks: string[]) => Object.fromEntries(checks.map((check) => [check, ACTIONS_APP]));

export const FULL_CLASSIC: ClassicSpec = {
  requiredChecks: ['build', 'test (20)', 'test (24)'],
  checkApps: pinned('build', 'test (20)', 'test (24)'),
  strict: true,
  enforceAdmins: true,
  reviews: { count: 2, dismissStale: true, codeOwners: true, lastPush: true },
  linearHistory: true,
  conversationResolution: true,
};

export { pinned };

export const POLICY = `branches:
  main:
    severity: P0
    required-status-checks: [build, test (20)]
    strict: true
    enforce-admins: true
    required-approving-review-count: 1
    dismiss-stale-reviews: true
    require-linear-history: true
    allow-force-pushes: false
    allow-deletions: false
    require-conversation-resolution: true
  develop:
    required-status-checks: [build]
    allow-force-pushes: false
`;
