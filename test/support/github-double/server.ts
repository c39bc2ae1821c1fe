import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  artifact,
  deployment,
  deploymentStatus,
  gitCommit,
  run,
  workflow,
  type ArtifactSpec,
  type DeploymentSpec,
  type DeploymentStatusSpec,
  type RunSpec,
  type WorkflowSpec,
} from './fixtures.js';
import { createDeploymentReply, createStatusReply } from './deployment-routes.js';
import { checkRequest, validateRequestBody, validateResponse } from './openapi.js';
import { attestationRoutes } from './attestation-routes.js';
import { createHash } from 'node:crypto';
import {
  BRANCH_NOT_PROTECTED,
  branchWithProtection,
  classicProtection,
  fileContent,
  githubApp,
  orgRepository,
  ruleset,
  shortBranch,
  type BranchSpec,
  type ClassicSpec,
  type RulesetSpec,
} from './protection-fixtures.js';
import { deploymentBranchPolicies, environment, type EnvironmentSpec } from './environment-fixtures.js';

/**
 * A GitHub REST API double on 127.0.0.1: the endpoints the suite's actions use, state set by each test,
 * fault injection, a request log, and a check of every request (path, method, path and query parameters)
 * and every response body against GitHub's published description. Violations are recorded (tests assert there
 * are none); a request that does not fit is answered 404/405/400 with a message saying what is wrong.
 */

export interface RepoState {
  workflows: WorkflowSpec[];
  runs: RunSpec[];
  artifacts: ArtifactSpec[];
  deployments: DeploymentSpec[];
  deploymentStatuses: DeploymentStatusSpec[];
  /** Commits known to the repository besides the head SHAs of runs. */
  commits: string[];
  branches: BranchSpec[];
  rulesets: RulesetSpec[];
  /** Files of the default branch by path (workflow files: `.github/workflows/build.yml`). */
  files: Record<string, string>;
  /** Deployment environments (a name not listed answers 404, as GitHub does before first use). */
  environments: EnvironmentSpec[];
  archived?: boolean;
}

/**
 * What a token may do: `admin` (an admin PAT: reads and writes classic protection, sees bypass actors),
 * `read` (a PAT without admin: 404 on classic protection, as for an unprotected branch), `integration` (the
 * workflow GITHUB_TOKEN: 403 "Resource not accessible by integration" on classic protection).
 */
export type TokenKind = 'admin' | 'read' | 'integration';

export type Fault =
  | { kind: 'status'; status: number; message?: string }
  | { kind: 'forbidden'; permission: string; message?: string }
  | { kind: 'primary-rate-limit'; status: 403 | 429; resetInSeconds?: number }
  | { kind: 'secondary-rate-limit'; retryAfter: number }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'raw'; status: number; body: unknown };

interface ArmedFault {
  fault: Fault;
  match?: RegExp;
  remaining: number;
}

export interface LoggedRequest {
  method: string;
  /** The path without the API prefix, e.g. /repos/o/r/actions/workflows/build.yml/runs */
  path: string;
  query: URLSearchParams;
  status: number;
  /** The operation of the GitHub description it was served as. */
  operation: string;
}

export interface Violation {
  request: string;
  status: number;
  problems: string[];
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

interface Call {
  body: unknown;
  kind: TokenKind;
}
type Handler = (match: RegExpExecArray, query: URLSearchParams, repo: string, call: Call) => Reply;

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  handler: Handler;
}

const BLOB_PATH = '/_blob/';
const blobSignature = (id: number) => `sig${(id * 7919) % 100_003}`;

const notFound = (): Reply => ({
  status: 404,
  body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' },
});

function pagination(query: URLSearchParams, fallback = 30): { perPage: number; page: number } {
  const perPage = Math.min(Math.max(Number(query.get('per_page') ?? fallback) || fallback, 1), 100);
  const page = Math.max(Number(query.get('page') ?? 1) || 1, 1);
  return { perPage, page };
}

/** The body of PUT …/branches/{branch}/protection (already validated against the description). */
interface ProtectionPut {
  required_status_checks: {
    strict: boolean;
    contexts: string[];
    checks?: { context: string; app_id?: number }[];
  } | null;
  enforce_admins: boolean | null;
  required_pull_request_reviews: {
    dismiss_stale_reviews?: boolean;
    require_code_owner_reviews?: boolean;
    required_approving_review_count?: number;
    require_last_push_approval?: boolean;
    dismissal_restrictions?: { users?: string[] };
    bypass_pull_request_allowances?: { users?: string[]; teams?: string[]; apps?: string[] };
  } | null;
  restrictions: { users: string[] } | null;
  required_linear_history?: boolean;
  allow_force_pushes?: boolean | null;
  allow_deletions?: boolean;
  required_conversation_resolution?: boolean;
  lock_branch?: boolean;
  block_creations?: boolean;
  allow_fork_syncing?: boolean;
}

/** Classic protection as GitHub stores a PUT: `checks` win over the deprecated `contexts`; app_id -1 means any app. */
function classicFromPut(body: ProtectionPut): ClassicSpec {
  const checks = body.required_status_checks;
  const reviews = body.required_pull_request_reviews;
  const pinned = checks?.checks?.filter((check) => check.app_id !== undefined && check.app_id !== -1) ?? [];
  return {
    requiredChecks: checks ? (checks.checks?.map((check) => check.context) ?? checks.contexts) : undefined,
    checkApps: Object.fromEntries(pinned.map((check) => [check.context, check.app_id!])),
    strict: checks?.strict,
    enforceAdmins: body.enforce_admins ?? false,
    reviews: reviews
      ? {
          count: reviews.required_approving_review_count,
          dismissStale: reviews.dismiss_stale_reviews,
          codeOwners: reviews.require_code_owner_reviews,
          lastPush: reviews.require_last_push_approval,
        }
      : undefined,
    dismissalUsers: reviews?.dismissal_restrictions?.users,
    bypassUsers: reviews?.bypass_pull_request_allowances?.users,
    bypassTeams: reviews?.bypass_pull_request_allowances?.teams,
    bypassApps: reviews?.bypass_pull_request_allowances?.apps,
    linearHistory: body.required_linear_history,
    allowForcePushes: body.allow_force_pushes ?? false,
    allowDeletions: body.allow_deletions,
    conversationResolution: body.required_conversation_resolution,
    restrictUsers: body.restrictions?.users,
    lockBranch: body.lock_branch,
    blockCreations: body.block_creations,
    allowForkSyncing: body.allow_fork_syncing,
  };
}

export class GitHubDouble {
  readonly repos = new Map<string, RepoState>();
  readonly requests: LoggedRequest[] = [];
  readonly violations: Violation[] = [];
  /** When set, requests must carry `authorization: token <value>` (or Bearer), else 401. */
  token: string | undefined;
  /** The kind of each token (see TokenKind); a token not listed is `admin`. */
  readonly tokenKinds = new Map<string, TokenKind>();
  /** Public GitHub Apps by slug (GET /apps/{app_slug}). */
  readonly apps = new Map<string, number>();
  /** Answers GETs with an ETag and If-None-Match with 304 (on by default, as GitHub does). */
  conditional = true;
  /** Called before each request is served; tests use it to change state between polls. */
  onRequest: ((request: { method: string; path: string; query: URLSearchParams }) => void) | undefined;
  private readonly faults: ArmedFault[] = [];
  /** Aborted by stop(), so a slow answer in progress does not hold the process open. */
  private stopping = new AbortController();
  private server: Server | undefined;
  private origin = '';
  private readonly routes: Route[];

  /** `prefix` is `/api/v3` to look like GitHub Enterprise Server. */
  constructor(readonly prefix = '') {
    this.routes = [
      this.route('/repos/{owner}/{repo}/actions/workflows', (_m, q, repo) => this.listWorkflows(repo, q)),
      this.route('/repos/{owner}/{repo}/actions/workflows/{workflow_id}', (m, _q, repo) =>
        this.getWorkflow(repo, m[3]!),
      ),
      this.route('/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs', (m, q, repo) =>
        this.listRuns(repo, m[3]!, q),
      ),
      this.route('/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}', (m, _q, repo) =>
        this.getAttempt(repo, Number(m[3]), Number(m[4])),
      ),
      this.route('/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts', (m, q, repo) =>
        this.listArtifacts(repo, Number(m[3]), q),
      ),
      this.route('/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}', (m, _q, repo) =>
        this.downloadArtifact(repo, Number(m[3]), m[4]!),
      ),
      this.route('/repos/{owner}/{repo}/deployments', (_m, q, repo) => this.listDeployments(repo, q)),
      this.route('/repos/{owner}/{repo}/deployments/{deployment_id}', (m, _q, repo) =>
        this.getDeployment(repo, Number(m[3])),
      ),
      this.route('/repos/{owner}/{repo}/deployments/{deployment_id}/statuses', (m, q, repo) =>
        this.listStatuses(repo, Number(m[3]), q),
      ),
      this.route(
        '/repos/{owner}/{repo}/deployments',
        (_m, _q, repo, call) => createDeploymentReply(this.repo(repo), repo, call.body),
        'POST',
      ),
      this.route(
        '/repos/{owner}/{repo}/deployments/{deployment_id}/statuses',
        (m, _q, repo, call) => createStatusReply(this.repo(repo), repo, Number(m[3]), call.body),
        'POST',
      ),
      this.route('/repos/{owner}/{repo}/git/commits/{commit_sha}', (m, _q, repo) => this.getCommit(repo, m[3]!)),
      this.route('/orgs/{org}/repos', (m, q) => this.listOrgRepos(decodeURIComponent(m[1]!), q)),
      this.route('/repos/{owner}/{repo}/branches', (_m, q, repo) => this.listBranches(repo, q)),
      this.route('/repos/{owner}/{repo}/branches/{branch}', (m, _q, repo) =>
        this.getBranch(repo, decodeURIComponent(m[3]!)),
      ),
      this.route('/repos/{owner}/{repo}/branches/{branch}/protection', (m, _q, repo, call) =>
        this.getProtection(repo, decodeURIComponent(m[3]!), call),
      ),
      this.route(
        '/repos/{owner}/{repo}/branches/{branch}/protection',
        (m, _q, repo, call) => this.putProtection(repo, decodeURIComponent(m[3]!), call),
        'PUT',
      ),
      this.route(
        '/repos/{owner}/{repo}/branches/{branch}/protection/required_signatures',
        (m, _q, repo, call) => this.setSignatures(repo, decodeURIComponent(m[3]!), call, true),
        'POST',
      ),
      this.route(
        '/repos/{owner}/{repo}/branches/{branch}/protection/required_signatures',
        (m, _q, repo, call) => this.setSignatures(repo, decodeURIComponent(m[3]!), call, false),
        'DELETE',
      ),
      this.route('/repos/{owner}/{repo}/rules/branches/{branch}', (m, q, repo) =>
        this.branchRules(repo, decodeURIComponent(m[3]!), q),
      ),
      this.route('/repos/{owner}/{repo}/rulesets/{ruleset_id}', (m, _q, repo, call) =>
        this.getRuleset(repo, Number(m[3]), call),
      ),
      this.route('/repos/{owner}/{repo}/rulesets', (_m, q, repo, call) => this.listRulesets(repo, q, call)),
      this.route('/repos/{owner}/{repo}/rulesets', (_m, _q, repo, call) => this.writeRuleset(repo, call), 'POST'),
      this.route(
        '/repos/{owner}/{repo}/rulesets/{ruleset_id}',
        (m, _q, repo, call) => this.writeRuleset(repo, call, Number(m[3])),
        'PUT',
      ),
      this.route('/repos/{owner}/{repo}/contents/{path}', (m, _q, repo) =>
        this.getContent(repo, decodeURIComponent(m[3]!)),
      ),
      this.route('/apps/{app_slug}', (m) => {
        const id = this.apps.get(decodeURIComponent(m[1]!));
        return id === undefined ? notFound() : { status: 200, body: githubApp(decodeURIComponent(m[1]!), id) };
      }),
      this.route('/repos/{owner}/{repo}/environments/{environment_name}', (m, _q, repo) =>
        this.getEnvironment(repo, decodeURIComponent(m[3]!)),
      ),
      this.route('/repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies', (m, q, repo) =>
        this.listBranchPolicies(repo, decodeURIComponent(m[3]!), q),
      ),
      ...attestationRoutes(this).map(([template, handler]) => this.route(template, handler)),
    ];
  }

  private route(template: string, handler: Handler, method = 'GET'): Route {
    // `{path}` of the contents API spans slashes.
    const pattern = new RegExp(`^${template.replace('{path}', '(.+)').replace(/\{[a-z_]+\}/g, '([^/]+)')}$`);
    return { method, template, pattern, handler };
  }

  /** The state of one repository (`owner/name`), created empty on first use. */
  repo(fullName: string): RepoState {
    let state = this.repos.get(fullName);
    if (!state) {
      state = {
        workflows: [],
        runs: [],
        artifacts: [],
        deployments: [],
        deploymentStatuses: [],
        commits: [],
        branches: [],
        rulesets: [],
        files: {},
        environments: [],
      };
      this.repos.set(fullName, state);
    }
    return state;
  }

  /** Arms a fault for the next `times` requests whose path matches (all requests when no match is given). */
  inject(fault: Fault, { times = 1, match }: { times?: number; match?: RegExp } = {}): void {
    this.faults.push({ fault, match, remaining: times });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  get url(): string {
    return `${this.origin}${this.prefix}`;
  }

  /** Requests of one operation template (e.g. '/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs'). */
  requestsTo(template: string): LoggedRequest[] {
    return this.requests.filter((request) => request.operation === `GET ${template}`);
  }

  /** Requests of any method whose operation matches (`PUT /repos/{owner}/{repo}/branches/{branch}/protection`). */
  requestsOf(operation: string): LoggedRequest[] {
    return this.requests.filter((request) => request.operation === operation);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.serve(req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.stopping.abort();
    this.stopping = new AbortController();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  private takeFault(path: string): Fault | undefined {
    const armed = this.faults.find(
      (candidate) => candidate.remaining > 0 && (!candidate.match || candidate.match.test(path)),
    );
    if (!armed) return undefined;
    armed.remaining--;
    return armed.fault;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith(BLOB_PATH)) return this.serveBlob(req, res, url);
    let path = url.pathname;
    if (this.prefix) path = path.startsWith(this.prefix) ? path.slice(this.prefix.length) : '/__outside_prefix__';
    this.onRequest?.({ method, path, query: url.searchParams });
    const request = `${method} ${path}${url.search}`;

    // The request first: a path, method or parameter GitHub does not have is a violation, answered as one.
    const checked = checkRequest(method, path, url.searchParams);
    const route = checked.template
      ? this.routes.find((candidate) => candidate.template === checked.template && candidate.method === method)
      : undefined;
    const match = route?.pattern.exec(path);
    let body: unknown;
    if (method !== 'GET') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        checked.problems.push(`the request body is not JSON: ${text.slice(0, 80)}`);
        checked.status = 400;
      }
      if (checked.problems.length === 0 && checked.template)
        checked.problems.push(...validateRequestBody(checked.template, method, body));
      if (checked.problems.length > 0 && checked.status < 400) checked.status = 400;
    }
    if (checked.problems.length === 0 && !(route && match)) {
      checked.problems.push(
        `${method} ${checked.template} is in GitHub's REST description but not served by the GitHub double`,
      );
      checked.status = 404;
    }
    let reply: Reply;
    if (checked.problems.length > 0) {
      this.violations.push({ request, status: checked.status, problems: checked.problems });
      reply = {
        status: checked.status,
        body: {
          message: `GitHub double: the request does not fit GitHub's REST description: ${checked.problems.join('; ')}`,
          documentation_url: 'https://docs.github.com/rest',
        },
      };
    } else {
      reply = await this.answer(req, path, url.searchParams, route!, match!, body);
      const problems = validateResponse(route!.template, method, reply.status, reply.body);
      if (problems.length > 0) this.violations.push({ request, status: reply.status, problems });
      if (method === 'GET' && reply.status === 200 && this.conditional) {
        const etag = `"${createHash('sha1').update(JSON.stringify(reply.body)).digest('hex')}"`;
        reply.headers = { ...reply.headers, etag };
        if (req.headers['if-none-match'] === etag) reply = { status: 304, body: undefined, headers: { etag } };
      }
    }
    this.requests.push({
      method,
      path,
      query: url.searchParams,
      status: reply.status,
      operation: route ? `${method} ${route.template}` : `${method} ?`,
    });

    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'x-github-api-version-selected': '2022-11-28',
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '4999',
      'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 3600),
      'x-ratelimit-used': '1',
      'x-ratelimit-resource': 'core',
      ...reply.headers,
    };
    if (reply.body === undefined) {
      delete headers['content-type'];
      res.writeHead(reply.status, headers);
      return void res.end();
    }
    res.writeHead(reply.status, headers);
    res.end(reply.status === 304 || reply.status === 204 ? undefined : JSON.stringify(reply.body));
  }

  /**
   * Blob storage: the signed URL an artifact download redirects to, on the same loopback server. Like Azure blob
   * storage it needs no GitHub token (and is sent none), only the signature in the URL.
   */
  private serveBlob(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const id = Number(/^\/_blob\/artifacts\/(\d+)\.zip$/.exec(url.pathname)?.[1]);
    const spec = [...this.repos.values()].flatMap((state) => state.artifacts).find((candidate) => candidate.id === id);
    const signed = url.searchParams.get('sig') === blobSignature(id);
    const status = !signed ? 403 : spec?.zip ? 200 : 404;
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      status,
      operation: 'GET blob',
    });
    if (req.headers.authorization)
      this.violations.push({
        request: `GET ${url.pathname}`,
        status,
        problems: ["the blob URL was sent an Authorization header (GitHub's token must not leave for blob storage)"],
      });
    if (status !== 200) {
      res.writeHead(status, { 'content-type': 'application/xml' });
      return void res.end(
        `<?xml version="1.0" encoding="utf-8"?><Error><Code>${status === 403 ? 'AuthenticationFailed' : 'BlobNotFound'}</Code></Error>`,
      );
    }
    res.writeHead(200, { 'content-type': 'application/zip', 'content-length': String(spec!.zip!.length) });
    res.end(spec!.zip);
  }

  /** Requests the blob storage served. */
  get blobRequests(): LoggedRequest[] {
    return this.requests.filter((request) => request.operation === 'GET blob');
  }

  /** The answer to a request that fits the description: the token check, an armed fault, or the route's handler. */
  private async answer(
    req: IncomingMessage,
    path: string,
    query: URLSearchParams,
    route: Route,
    match: RegExpExecArray,
    body: unknown,
  ): Promise<Reply> {
    const auth = req.headers.authorization;
    const fault = this.takeFault(path);
    if (fault?.kind === 'slow') await sleep(fault.delayMs, undefined, { signal: this.stopping.signal }).catch(() => {});
    if (
      this.token !== undefined &&
      auth !== `token ${this.token}` &&
      auth !== `bearer ${this.token}` &&
      auth !== `Bearer ${this.token}`
    ) {
      return {
        status: 401,
        body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' },
      };
    }
    if (fault && fault.kind !== 'slow') return this.faultReply(fault);
    const token = auth?.replace(/^(token|bearer) /i, '');
    const call: Call = { body, kind: (token && this.tokenKinds.get(token)) || 'admin' };
    if (route.template.startsWith('/orgs/') || route.template.startsWith('/apps/'))
      return route.handler(match, query, '', call);
    const repo = `${decodeURIComponent(match[1]!)}/${decodeURIComponent(match[2]!)}`;
    return this.repos.has(repo) ? route.handler(match, query, repo, call) : notFound();
  }

  private faultReply(fault: Exclude<Fault, { kind: 'slow' }>): Reply {
    const docs = 'https://docs.github.com/rest';
    switch (fault.kind) {
      case 'status':
        return { status: fault.status, body: { message: fault.message ?? 'Server Error', documentation_url: docs } };
      case 'raw':
        return { status: fault.status, body: fault.body };
      case 'forbidden':
        return {
          status: 403,
          body: {
            message: fault.message ?? 'Resource not accessible by integration',
            documentation_url: docs,
            status: '403',
          },
          headers: { 'x-accepted-github-permissions': fault.permission },
        };
      case 'primary-rate-limit':
        return {
          status: fault.status,
          body: {
            message: 'API rate limit exceeded for installation ID 1.',
            documentation_url: `${docs}/overview/rate-limits-for-the-rest-api`,
          },
          headers: {
            'x-ratelimit-limit': '5000',
            'x-ratelimit-remaining': '0',
            'x-ratelimit-used': '5000',
            'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + (fault.resetInSeconds ?? 0)),
            'x-ratelimit-resource': 'core',
          },
        };
      case 'secondary-rate-limit':
        return {
          status: 403,
          body: {
            message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
            documentation_url: `${docs}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits`,
          },
          headers: { 'retry-after': String(fault.retryAfter) },
        };
    }
  }

  /** One page of `items` (built into response objects only for that page) with GitHub's Link header. */
  private paged<T, U = T>(
    items: T[],
    query: URLSearchParams,
    path: string,
    fallback = 30,
    build: (item: T) => U = (item) => item as unknown as U,
  ): { page: U[]; headers: Record<string, string> } {
    const { perPage, page } = pagination(query, fallback);
    const last = Math.max(Math.ceil(items.length / perPage), 1);
    const link = (n: number, rel: string) => {
      const params = new URLSearchParams(query);
      params.set('per_page', String(perPage));
      params.set('page', String(n));
      return `<${this.url}${path}?${params}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(page - 1, 'prev'), link(1, 'first'));
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
    return {
      page: items.slice((page - 1) * perPage, page * perPage).map(build),
      headers: links.length > 0 ? { link: links.join(', ') } : {},
    };
  }

  private findWorkflow(repo: string, id: string): WorkflowSpec | undefined {
    const decoded = decodeURIComponent(id);
    return this.repo(repo).workflows.find((wf) => String(wf.id) === decoded || wf.file === decoded);
  }

  private listWorkflows(repo: string, query: URLSearchParams): Reply {
    const all = this.repo(repo).workflows.map((wf) => workflow(repo, wf));
    const { page, headers } = this.paged(all, query, `/repos/${repo}/actions/workflows`);
    return { status: 200, body: { total_count: all.length, workflows: page }, headers };
  }

  private getWorkflow(repo: string, id: string): Reply {
    const wf = this.findWorkflow(repo, id);
    return wf ? { status: 200, body: workflow(repo, wf) } : notFound();
  }

  private listRuns(repo: string, id: string, query: URLSearchParams): Reply {
    const wf = this.findWorkflow(repo, id);
    if (!wf) return notFound();
    const status = query.get('status');
    const runs = this.repo(repo)
      .runs.filter((r) => r.workflowId === wf.id)
      .filter((r) => !query.get('head_sha') || r.headSha === query.get('head_sha'))
      .filter((r) => !query.get('branch') || (r.branch ?? 'main') === query.get('branch'))
      .filter((r) => !query.get('event') || (r.event ?? 'push') === query.get('event'))
      .filter(
        (r) =>
          !status ||
          (r.status ?? 'completed') === status ||
          ((r.status ?? 'completed') === 'completed' && (r.conclusion ?? 'success') === status),
      )
      .sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || b.id - a.id);
    const { page, headers } = this.paged(runs, query, `/repos/${repo}/actions/workflows/${id}/runs`, 30, (r) =>
      run(repo, wf, r),
    );
    return { status: 200, body: { total_count: runs.length, workflow_runs: page }, headers };
  }

  private getAttempt(repo: string, runId: number, attempt: number): Reply {
    const spec = this.repo(repo).runs.find((r) => r.id === runId);
    const wf = spec && this.repo(repo).workflows.find((w) => w.id === spec.workflowId);
    const latest = spec?.runAttempt ?? 1;
    if (!spec || !wf || !Number.isInteger(attempt) || attempt < 1 || attempt > latest) return notFound();
    if (attempt === latest) return { status: 200, body: run(repo, wf, spec) };
    const earlier = spec.previousAttempts?.[attempt - 1] ?? { conclusion: 'failure' };
    return {
      status: 200,
      body: run(repo, wf, {
        ...spec,
        runAttempt: attempt,
        runStartedAt: earlier.startedAt ?? spec.createdAt,
        status: earlier.status ?? 'completed',
        conclusion: earlier.conclusion ?? 'failure',
      }),
    };
  }

  private listArtifacts(repo: string, runId: number, query: URLSearchParams): Reply {
    const state = this.repo(repo);
    const owner = state.runs.find((r) => r.id === runId);
    if (!owner) return notFound();
    const all = state.artifacts
      .filter((a) => a.runId === runId && (!query.get('name') || a.name === query.get('name')))
      .map((a) => artifact(repo, a, owner.headSha));
    const { page, headers } = this.paged(all, query, `/repos/${repo}/actions/runs/${runId}/artifacts`);
    return { status: 200, body: { total_count: all.length, artifacts: page }, headers };
  }

  /** GitHub answers a download with a 302 to a short-lived signed blob URL, or 410 once the artifact expired. */
  private downloadArtifact(repo: string, id: number, format: string): Reply {
    const spec = this.repo(repo).artifacts.find((candidate) => candidate.id === id);
    if (!spec || format !== 'zip') return notFound();
    if (spec.expired)
      return {
        status: 410,
        body: {
          message: 'Artifact has expired',
          documentation_url: 'https://docs.github.com/rest/actions/artifacts#download-an-artifact',
          status: '410',
        },
      };
    return {
      status: 302,
      body: undefined,
      headers: {
        location: `${this.origin}${BLOB_PATH}artifacts/${id}.zip?sig=${blobSignature(id)}&se=2026-11-23T09%3A00%3A00Z`,
      },
    };
  }

  private listDeployments(repo: string, query: URLSearchParams): Reply {
    const all = this.repo(repo)
      .deployments.filter((d) => !query.get('environment') || d.environment === query.get('environment'))
      .filter((d) => !query.get('sha') || d.sha === query.get('sha'))
      .sort((a, b) => b.id - a.id)
      .map((d) => deployment(repo, d));
    const { page, headers } = this.paged(all, query, `/repos/${repo}/deployments`);
    return { status: 200, body: page, headers };
  }

  /** GET …/deployments/{id}: the deployment, or 404 (GitHub's "Not Found") for an id the repository does not have. */
  private getDeployment(repo: string, deploymentId: number): Reply {
    const found = this.repo(repo).deployments.find((d) => d.id === deploymentId);
    return found ? { status: 200, body: deployment(repo, found) } : notFound();
  }

  private listStatuses(repo: string, deploymentId: number, query: URLSearchParams): Reply {
    const state = this.repo(repo);
    const owner = state.deployments.find((d) => d.id === deploymentId);
    if (!owner) return notFound();
    const all = state.deploymentStatuses
      .filter((s) => s.deploymentId === deploymentId)
      .sort((a, b) => b.id - a.id)
      .map((s) => deploymentStatus(repo, s, owner.environment));
    const { page, headers } = this.paged(all, query, `/repos/${repo}/deployments/${deploymentId}/statuses`);
    return { status: 200, body: page, headers };
  }

  private getCommit(repo: string, sha: string): Reply {
    const state = this.repo(repo);
    const known = state.commits.includes(sha) || state.runs.some((r) => r.headSha === sha);
    if (known) return { status: 200, body: gitCommit(repo, sha) };
    return {
      status: 404,
      body: {
        message: 'Not Found',
        documentation_url: 'https://docs.github.com/rest/git/commits#get-a-commit-object',
        status: '404',
      },
    };
  }

  private listOrgRepos(org: string, query: URLSearchParams): Reply {
    const all = [...this.repos.entries()].filter(([name]) => name.split('/')[0] === org);
    if (all.length === 0) return notFound();
    const { page, headers } = this.paged(all, query, `/orgs/${org}/repos`, 30, ([name, state]) =>
      orgRepository(name, 1000 + [...this.repos.keys()].indexOf(name), state.archived ?? false),
    );
    return { status: 200, body: page, headers };
  }

  private findBranch(repo: string, name: string): BranchSpec | undefined {
    return this.repo(repo).branches.find((branch) => branch.name === name);
  }

  private listBranches(repo: string, query: URLSearchParams): Reply {
    const { page, headers } = this.paged(this.repo(repo).branches, query, `/repos/${repo}/branches`, 30, (branch) =>
      shortBranch(repo, branch, this.activeRulesets(repo, branch.name).length > 0),
    );
    return { status: 200, body: page, headers };
  }

  private getBranch(repo: string, name: string): Reply {
    const branch = this.findBranch(repo, name);
    return branch
      ? { status: 200, body: branchWithProtection(repo, branch, this.activeRulesets(repo, name).length > 0) }
      : {
          status: 404,
          body: {
            message: 'Branch not found',
            documentation_url: 'https://docs.github.com/rest/branches/branches#get-a-branch',
            status: '404',
          },
        };
  }

  /** Classic protection: only an admin token reads it; the others get the answers GitHub gives them. */
  private protectionDenied(kind: TokenKind): Reply | undefined {
    if (kind === 'integration') {
      return {
        status: 403,
        body: {
          message: 'Resource not accessible by integration',
          documentation_url: 'https://docs.github.com/rest/branches/branch-protection#get-branch-protection',
          status: '403',
        },
        headers: { 'x-accepted-github-permissions': 'administration=read' },
      };
    }
    if (kind === 'read') return notFound();
    return undefined;
  }

  private getProtection(repo: string, name: string, call: Call): Reply {
    const denied = this.protectionDenied(call.kind);
    if (denied) return denied;
    const branch = this.findBranch(repo, name);
    if (!branch)
      return {
        status: 404,
        body: {
          message: 'Branch not found',
          documentation_url: 'https://docs.github.com/rest/branches/branch-protection#get-branch-protection',
          status: '404',
        },
      };
    if (!branch.classic) return { status: 404, body: { ...BRANCH_NOT_PROTECTED, status: '404' } };
    return { status: 200, body: classicProtection(repo, name, branch.classic) };
  }

  private putProtection(repo: string, name: string, call: Call): Reply {
    const denied = this.protectionDenied(call.kind);
    if (denied) return denied;
    const branch = this.findBranch(repo, name);
    if (!branch)
      return {
        status: 404,
        body: {
          message: 'Branch not found',
          documentation_url: 'https://docs.github.com/rest/branches/branch-protection#update-branch-protection',
          status: '404',
        },
      };
    const spec = classicFromPut(call.body as ProtectionPut);
    // PUT replaces the whole configuration: what the body leaves out is gone (signatures are a separate endpoint).
    spec.signatures = branch.classic?.signatures;
    branch.classic = spec;
    return { status: 200, body: classicProtection(repo, name, spec) };
  }

  private setSignatures(repo: string, name: string, call: Call, enabled: boolean): Reply {
    const denied = this.protectionDenied(call.kind);
    if (denied) return denied;
    const branch = this.findBranch(repo, name);
    if (!branch?.classic) return { status: 404, body: { ...BRANCH_NOT_PROTECTED, status: '404' } };
    branch.classic.signatures = enabled;
    if (!enabled) return { status: 204, body: undefined };
    return {
      status: 200,
      body: { url: `${this.url}/repos/${repo}/branches/${name}/protection/required_signatures`, enabled: true },
    };
  }

  /** The active rulesets whose conditions match the branch (evaluate and disabled ones do not apply, as on GitHub). */
  private activeRulesets(repo: string, name: string): RulesetSpec[] {
    const matches = (pattern: string) =>
      pattern === '~DEFAULT_BRANCH'
        ? name === 'main'
        : pattern === '~ALL' ||
          new RegExp(
            `^${pattern
              .replace(/[.+^${}()|[\]\\]/g, '\\$&')
              .replace(/\*\*/g, '\u0000')
              .replace(/\*/g, '[^/]*')
              .replace(/\u0000/g, '.*')}$`,
          ).test(name);
    return this.repo(repo).rulesets.filter((set) => set.enforcement === 'active' && set.include.some(matches));
  }

  /** The rules of the active rulesets that apply to the branch. */
  private branchRules(repo: string, name: string, query: URLSearchParams): Reply {
    const rules = this.activeRulesets(repo, name).flatMap((set) =>
      set.rules.map((rule) => ({
        ...rule,
        ruleset_source_type: set.source ?? 'Repository',
        ruleset_source: set.source === 'Organization' ? repo.split('/')[0]! : repo,
        ruleset_id: set.id,
      })),
    );
    const { page, headers } = this.paged(rules, query, `/repos/${repo}/rules/branches/${name}`);
    return { status: 200, body: page, headers };
  }

  /** The repository's own rulesets (bypass actors only for admins, as on GitHub). */
  private listRulesets(repo: string, query: URLSearchParams, call: Call): Reply {
    const own = this.repo(repo).rulesets.filter((set) => (set.source ?? 'Repository') === 'Repository');
    const { page, headers } = this.paged(own, query, `/repos/${repo}/rulesets`, 30, (set) =>
      ruleset(repo, set, call.kind === 'admin'),
    );
    return { status: 200, body: page, headers };
  }

  /** POST (create) or PUT (replace) a repository ruleset: admins only, as classic protection. */
  private writeRuleset(repo: string, call: Call, id?: number): Reply {
    const denied = this.protectionDenied(call.kind);
    if (denied) return denied;
    const sets = this.repo(repo).rulesets;
    const index = id === undefined ? -1 : sets.findIndex((set) => set.id === id);
    if (id !== undefined && index < 0) return notFound();
    const body = call.body as {
      name: string;
      enforcement: RulesetSpec['enforcement'];
      conditions?: { ref_name?: { include?: string[] } };
      bypass_actors?: RulesetSpec['bypassActors'];
      rules?: RulesetSpec['rules'];
    };
    const spec: RulesetSpec = {
      id: id ?? 1000 + sets.length,
      name: body.name,
      enforcement: body.enforcement,
      include: (body.conditions?.ref_name?.include ?? []).map((ref) => ref.replace(/^refs\/heads\//, '')),
      bypassActors: body.bypass_actors ?? [],
      rules: body.rules ?? [],
    };
    if (index < 0) sets.push(spec);
    else sets[index] = spec;
    return { status: id === undefined ? 201 : 200, body: ruleset(repo, spec, true) };
  }

  private getRuleset(repo: string, id: number, call: Call): Reply {
    const set = this.repo(repo).rulesets.find((candidate) => candidate.id === id);
    return set ? { status: 200, body: ruleset(repo, set, call.kind === 'admin') } : notFound();
  }

  private getEnvironment(repo: string, name: string): Reply {
    // Environment names are not case sensitive on GitHub.
    const spec = this.repo(repo).environments.find((env) => env.name.toLowerCase() === name.toLowerCase());
    return spec ? { status: 200, body: environment(repo, spec) } : notFound();
  }

  private listBranchPolicies(repo: string, name: string, query: URLSearchParams): Reply {
    const spec = this.repo(repo).environments.find((env) => env.name.toLowerCase() === name.toLowerCase());
    if (!spec) return notFound();
    const all = deploymentBranchPolicies(repo, spec);
    const path = `/repos/${repo}/environments/${encodeURIComponent(name)}/deployment-branch-policies`;
    const { page, headers } = this.paged(all, query, path);
    return { status: 200, body: { total_count: all.length, branch_policies: page }, headers };
  }

  private getContent(repo: string, path: string): Reply {
    const text = this.repo(repo).files[path];
    return text === undefined ? notFound() : { status: 200, body: fileContent(repo, path, text) };
  }
}
