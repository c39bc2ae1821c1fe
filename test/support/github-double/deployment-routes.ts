import { deployment, deploymentStatus, type DeploymentSpec, type DeploymentStatusSpec } from './fixtures.js';

/**
 * The two writes of GitHub's deployments API, as GitHub answers them (docs.github.com/rest/deployments):
 * POST …/deployments resolves `ref` to a commit (422 "No ref found" otherwise) and answers 201 with the deployment
 * of that commit; POST …/deployments/{id}/statuses adds a status (404 for an unknown deployment) and, for a
 * `success` with `auto_inactive` (the default), adds an `inactive` status to every earlier deployment of the same
 * environment whose newest status is success, unless that deployment is transient or marked production.
 * The request bodies were already checked against the OpenAPI description by the server.
 */

interface State {
  deployments: DeploymentSpec[];
  deploymentStatuses: DeploymentStatusSpec[];
  commits: string[];
  runs: { headSha: string }[];
  branches: { name: string; sha?: string }[];
}

interface Reply {
  status: number;
  body: unknown;
}

/** GitHub's timestamps: whole seconds, UTC. */
const now = () => new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');

function resolveRef(state: State, ref: string): string | undefined {
  const lower = ref.toLowerCase();
  const commits = [...state.commits, ...state.runs.map((run) => run.headSha)].map((sha) => sha.toLowerCase());
  if (/^[0-9a-f]{40}$/.test(lower)) return commits.includes(lower) ? lower : undefined;
  return state.branches.find((branch) => branch.name === ref)?.sha;
}

export function createDeploymentReply(state: State, repo: string, body: unknown): Reply {
  const request = body as {
    ref: string;
    environment?: string;
    production_environment?: boolean;
    transient_environment?: boolean;
  };
  const sha = resolveRef(state, request.ref);
  if (!sha)
    return {
      status: 422,
      body: {
        message: `No ref found for: ${request.ref}`,
        documentation_url: 'https://docs.github.com/rest/deployments/deployments#create-a-deployment',
      },
    };
  const environment = request.environment ?? 'production';
  const spec: DeploymentSpec = {
    id: Math.max(1000, ...state.deployments.map((d) => d.id)) + 1,
    sha,
    environment,
    ref: request.ref,
    createdAt: now(),
    production: request.production_environment ?? environment === 'production',
    transient: request.transient_environment ?? false,
    request: body,
  };
  state.deployments.push(spec);
  return { status: 201, body: deployment(repo, spec) };
}

const newestStatus = (state: State, deploymentId: number) =>
  state.deploymentStatuses.filter((s) => s.deploymentId === deploymentId).sort((a, b) => b.id - a.id)[0];

export function createStatusReply(state: State, repo: string, deploymentId: number, body: unknown): Reply {
  const owner = state.deployments.find((d) => d.id === deploymentId);
  if (!owner)
    return {
      status: 404,
      body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' },
    };
  const request = body as { state: DeploymentStatusSpec['state']; auto_inactive?: boolean };
  const nextId = () => Math.max(5000, ...state.deploymentStatuses.map((s) => s.id)) + 1;
  const createdAt = now();
  if (request.state === 'success' && request.auto_inactive !== false) {
    for (const earlier of state.deployments) {
      if (earlier.id === owner.id || earlier.environment !== owner.environment) continue;
      if (earlier.transient || earlier.production || newestStatus(state, earlier.id)?.state !== 'success') continue;
      state.deploymentStatuses.push({ id: nextId(), deploymentId: earlier.id, state: 'inactive', createdAt });
    }
  }
  const spec: DeploymentStatusSpec = { id: nextId(), deploymentId, state: request.state, createdAt };
  state.deploymentStatuses.push(spec);
  return { status: 201, body: deploymentStatus(repo, spec, owner.environment) };
}
