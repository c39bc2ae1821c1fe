/**
 * Builders for the objects the double serves, complete enough to satisfy GitHub's published schemas
 * (the double validates every response against them). Tests pass only the fields they care about.
 */
export const WEB = 'https://github.example';
const API = 'https://api.github.example';

export function user(login = 'octocat', id = 1) {
  return {
    login,
    id,
    node_id: `U_${id}`,
    avatar_url: `${WEB}/avatars/${login}`,
    gravatar_id: '',
    url: `${API}/users/${login}`,
    html_url: `${WEB}/${login}`,
    followers_url: `${API}/users/${login}/followers`,
    following_url: `${API}/users/${login}/following{/other_user}`,
    gists_url: `${API}/users/${login}/gists{/gist_id}`,
    starred_url: `${API}/users/${login}/starred{/owner}{/repo}`,
    subscriptions_url: `${API}/users/${login}/subscriptions`,
    organizations_url: `${API}/users/${login}/orgs`,
    repos_url: `${API}/users/${login}/repos`,
    events_url: `${API}/users/${login}/events{/privacy}`,
    received_events_url: `${API}/users/${login}/received_events`,
    type: 'User',
    site_admin: false,
  };
}

export function repository(fullName: string, id = 42) {
  const [owner = 'octo', name = 'app'] = fullName.split('/');
  const url = `${API}/repos/${fullName}`;
  const urls = Object.fromEntries(
    [
      'archive',
      'assignees',
      'blobs',
      'branches',
      'collaborators',
      'comments',
      'commits',
      'compare',
      'contents',
      'contributors',
      'deployments',
      'downloads',
      'events',
      'forks',
      'git_commits',
      'git_refs',
      'git_tags',
      'hooks',
      'issue_comment',
      'issue_events',
      'issues',
      'keys',
      'labels',
      'languages',
      'merges',
      'milestones',
      'notifications',
      'pulls',
      'releases',
      'stargazers',
      'statuses',
      'subscribers',
      'subscription',
      'tags',
      'teams',
      'trees',
    ].map((key) => [`${key}_url`, `${url}/${key.replace('_', '/')}`]),
  );
  return {
    id,
    node_id: `R_${id}`,
    name,
    full_name: fullName,
    owner: user(owner, 2),
    private: true,
    html_url: `${WEB}/${fullName}`,
    description: null,
    fork: false,
    url,
    ...urls,
  };
}

export interface WorkflowSpec {
  id: number;
  name: string;
  /** File name under .github/workflows/ */
  file: string;
  state?: 'active' | 'disabled_manually' | 'disabled_inactivity';
}

export function workflow(repo: string, spec: WorkflowSpec) {
  const path = `.github/workflows/${spec.file}`;
  return {
    id: spec.id,
    node_id: `W_${spec.id}`,
    name: spec.name,
    path,
    state: spec.state ?? 'active',
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    url: `${API}/repos/${repo}/actions/workflows/${spec.id}`,
    html_url: `${WEB}/${repo}/blob/main/${path}`,
    badge_url: `${WEB}/${repo}/workflows/${encodeURIComponent(spec.name)}/badge.svg`,
  };
}

export interface RunSpec {
  id: number;
  workflowId: number;
  headSha: string;
  runNumber?: number;
  runAttempt?: number;
  status?: 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending';
  conclusion?: string | null;
  branch?: string;
  event?: string;
  createdAt?: string;
  /**
   * Earlier attempts (index 0 is attempt 1) when `runAttempt` > 1: GitHub lists only a run's latest attempt;
   * earlier ones are read one by one (`GET …/actions/runs/{run_id}/attempts/{attempt_number}`).
   * An attempt not given here concluded `failure`.
   */
  previousAttempts?: { status?: RunSpec['status']; conclusion?: string | null; startedAt?: string }[];
  /** When the latest attempt started (default createdAt; a re-run starts later). */
  runStartedAt?: string;
  /** `owner/name` the head commit came from (a fork for a pull request from one); default the repository. */
  headRepository?: string;
}

export function run(repo: string, wf: WorkflowSpec, spec: RunSpec) {
  const url = `${API}/repos/${repo}/actions/runs/${spec.id}`;
  const status = spec.status ?? 'completed';
  const createdAt = spec.createdAt ?? '2026-11-23T08:00:00Z';
  return {
    id: spec.id,
    name: wf.name,
    node_id: `WFR_${spec.id}`,
    check_suite_id: spec.id * 10,
    head_branch: spec.branch ?? 'main',
    head_sha: spec.headSha,
    path: `.github/workflows/${wf.file}`,
    display_title: `Build ${spec.headSha.slice(0, 7)}`,
    run_number: spec.runNumber ?? spec.id,
    run_attempt: spec.runAttempt ?? 1,
    event: spec.event ?? 'push',
    status,
    conclusion: status === 'completed' ? (spec.conclusion ?? 'success') : null,
    workflow_id: wf.id,
    url,
    html_url: `${WEB}/${repo}/actions/runs/${spec.id}`,
    pull_requests: [],
    created_at: createdAt,
    updated_at: createdAt,
    run_started_at: spec.runStartedAt ?? createdAt,
    jobs_url: `${url}/jobs`,
    logs_url: `${url}/logs`,
    check_suite_url: `${API}/repos/${repo}/check-suites/${spec.id * 10}`,
    artifacts_url: `${url}/artifacts`,
    cancel_url: `${url}/cancel`,
    rerun_url: `${url}/rerun`,
    workflow_url: `${API}/repos/${repo}/actions/workflows/${wf.id}`,
    head_commit: {
      id: spec.headSha,
      tree_id: 'f'.repeat(40),
      message: 'Build',
      timestamp: createdAt,
      author: { name: 'Octo Cat', email: 'octo@example.com' },
      committer: { name: 'Octo Cat', email: 'octo@example.com' },
    },
    repository: repository(repo),
    head_repository: spec.headRepository ? repository(spec.headRepository, 4242) : repository(repo),
  };
}

export interface ArtifactSpec {
  id: number;
  runId: number;
  name: string;
  sizeInBytes?: number;
  expired?: boolean;
  digest?: string | null;
  createdAt?: string;
  expiresAt?: string;
  /** The zip served for a download (302 from the API to a blob URL of the double); 404 from the blob when absent. */
  zip?: Buffer;
}

export function artifact(repo: string, spec: ArtifactSpec, headSha: string) {
  const url = `${API}/repos/${repo}/actions/artifacts/${spec.id}`;
  const createdAt = spec.createdAt ?? '2026-11-23T08:05:00Z';
  return {
    id: spec.id,
    node_id: `A_${spec.id}`,
    name: spec.name,
    size_in_bytes: spec.sizeInBytes ?? 1024,
    url,
    archive_download_url: `${url}/zip`,
    expired: spec.expired ?? false,
    created_at: createdAt,
    updated_at: createdAt,
    // Default: live for 90 days from now (upload-artifact's default retention), whatever day the suite runs; an
    // artifact past its expires_at is expired even while GitHub's `expired` flag is still false.
    expires_at: spec.expiresAt ?? new Date(Date.now() + 90 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    digest: spec.digest === undefined ? null : spec.digest,
    workflow_run: { id: spec.runId, repository_id: 42, head_repository_id: 42, head_branch: 'main', head_sha: headSha },
  };
}

export interface DeploymentSpec {
  id: number;
  sha: string;
  environment: string;
  ref?: string;
  createdAt?: string;
  /** GitHub's production_environment (default: the environment is named `production`). */
  production?: boolean;
  transient?: boolean;
  /** The body of the POST that created it (deployments created through the double). */
  request?: unknown;
}

export function deployment(repo: string, spec: DeploymentSpec) {
  const url = `${API}/repos/${repo}/deployments/${spec.id}`;
  const createdAt = spec.createdAt ?? '2026-11-23T08:10:00Z';
  return {
    url,
    id: spec.id,
    node_id: `DE_${spec.id}`,
    sha: spec.sha,
    ref: spec.ref ?? 'main',
    task: 'deploy',
    payload: {},
    original_environment: spec.environment,
    environment: spec.environment,
    description: null,
    creator: user(),
    created_at: createdAt,
    updated_at: createdAt,
    statuses_url: `${url}/statuses`,
    repository_url: `${API}/repos/${repo}`,
    transient_environment: spec.transient ?? false,
    production_environment: spec.production ?? spec.environment === 'production',
  };
}

export interface DeploymentStatusSpec {
  id: number;
  deploymentId: number;
  state: 'error' | 'failure' | 'inactive' | 'pending' | 'success' | 'queued' | 'in_progress';
  createdAt: string;
}

export function deploymentStatus(repo: string, spec: DeploymentStatusSpec, environment: string) {
  const deploymentUrl = `${API}/repos/${repo}/deployments/${spec.deploymentId}`;
  return {
    url: `${deploymentUrl}/statuses/${spec.id}`,
    id: spec.id,
    node_id: `DES_${spec.id}`,
    state: spec.state,
    creator: user(),
    description: '',
    environment,
    target_url: `${WEB}/${repo}/actions/runs/1`,
    log_url: `${WEB}/${repo}/actions/runs/1`,
    environment_url: `https://${environment}.example.com`,
    created_at: spec.createdAt,
    updated_at: spec.createdAt,
    deployment_url: deploymentUrl,
    repository_url: `${API}/repos/${repo}`,
  };
}

export function gitCommit(repo: string, sha: string) {
  const person = { name: 'Octo Cat', email: 'octo@example.com', date: '2026-11-23T07:00:00Z' };
  return {
    sha,
    node_id: `C_${sha.slice(0, 8)}`,
    url: `${API}/repos/${repo}/git/commits/${sha}`,
    html_url: `${WEB}/${repo}/commit/${sha}`,
    author: person,
    committer: person,
    message: 'Build',
    tree: { sha: 'f'.repeat(40), url: `${API}/repos/${repo}/git/trees/${'f'.repeat(40)}` },
    parents: [],
    verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
  };
}
