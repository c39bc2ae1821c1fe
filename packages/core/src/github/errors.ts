import { UserError } from '../errors.js';

/** What a request was for, so a failure can name the resource and the permission that reads it. */
export interface RequestPurpose {
  /** e.g. `workflow runs of build-artifacts.yml in octo/app` */
  what: string;
  /** The GITHUB_TOKEN permission that grants it, e.g. `actions: read`. */
  permission: string;
  /** What a 404 means here, when it means more than "not found". */
  notFound?: string;
}

interface RequestErrorLike {
  status: number;
  message: string;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
  request?: { method?: string; url?: string };
}

/** GitHub's own words for a failed request (the body's `message`), else the client's. */
export const githubMessage = (error: RequestErrorLike) =>
  String((error.response?.data as { message?: unknown } | undefined)?.message ?? error.message);

export function isRequestError(error: unknown): error is RequestErrorLike {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { status?: unknown }).status === 'number' &&
    'message' in error
  );
}

/** GitHub answered with an HTTP error status; the message names the resource and the fix. */
export class GitHubHttpError extends UserError {
  override name = 'GitHubHttpError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * The API could not be talked to at all: no connection, no answer in time, or an answer too large to read.
 * Nothing was learned about the resource, so callers never read it as "not found".
 */
export class GitHubUnavailable extends UserError {
  override name = 'GitHubUnavailable';
}

/** GitHub answered, but not with what its API documents (a non-numeric id, a missing field, an HTML page). */
export class GitHubUnexpectedResponse extends UserError {
  override name = 'GitHubUnexpectedResponse';
}

function header(error: RequestErrorLike, name: string): string | undefined {
  const value = error.response?.headers?.[name];
  return value === undefined ? undefined : String(value);
}

/**
 * Turns a failed GitHub request into an error a person can act on: which resource, what GitHub said,
 * and the fix (the permission to grant, the token to check, when a rate limit resets).
 * Anything that is not an HTTP error from GitHub is returned unchanged.
 */
export function explainGitHubError(error: unknown, purpose: RequestPurpose): unknown {
  if (!isRequestError(error)) return error;
  const where = `${error.request?.method ?? 'GET'} ${error.request?.url ?? ''}`.trim();
  const said = `GitHub answered ${error.status}${error.message ? ` (${error.message.split(' - ')[0]})` : ''} for ${where}`;
  const remaining = header(error, 'x-ratelimit-remaining');
  const reset = header(error, 'x-ratelimit-reset');
  const secondary = /secondary rate/i.test(error.message);
  if ((error.status === 403 || error.status === 429) && (remaining === '0' || secondary)) {
    const when = reset && !secondary ? `; the limit resets at ${new Date(Number(reset) * 1000).toISOString()}` : '';
    const retryAfter = header(error, 'retry-after');
    return new GitHubHttpError(
      `Reading ${purpose.what} hit GitHub's ${secondary ? 'secondary' : 'primary'} rate limit and retries did not get through: ${said}${when}${
        retryAfter ? `; retry-after ${retryAfter}s` : ''
      }. Run again later, spread out jobs that call the API, or use a token with a higher limit (a GitHub App installation token).`,
      error.status,
    );
  }
  if (error.status === 401) {
    return new GitHubHttpError(
      `GitHub rejected the token reading ${purpose.what}: ${said}. Check the token the step was given: it is expired, revoked, or not a token for this GitHub host (GITHUB_API_URL).`,
      error.status,
    );
  }
  if (error.status === 403) {
    const accepted = header(error, 'x-accepted-github-permissions');
    return new GitHubHttpError(
      `The token may not read ${purpose.what}: ${said}. Grant the job \`permissions: { ${purpose.permission} }\`${
        accepted ? ` (GitHub asks for ${accepted.replace(/=/g, ': ')})` : ''
      }, or pass a github-token that has it.`,
      error.status,
    );
  }
  if (error.status === 404) {
    return new GitHubHttpError(
      `${purpose.notFound ?? `Not found: ${purpose.what}`}: ${said}. Check the name and the repository (owner/name); for a private repository the token also needs \`${purpose.permission}\` (GitHub answers 404, not 403, when it cannot see it).`,
      error.status,
    );
  }
  if (error.status >= 500) {
    return new GitHubHttpError(
      `GitHub kept failing while reading ${purpose.what}: ${said}, also after retries. Check https://www.githubstatus.com and run again.`,
      error.status,
    );
  }
  return new GitHubHttpError(`Reading ${purpose.what} failed: ${said}.`, error.status);
}

/** Runs one request and explains its failure. */
export async function explained<T>(purpose: RequestPurpose, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw explainGitHubError(error, purpose);
  }
}
