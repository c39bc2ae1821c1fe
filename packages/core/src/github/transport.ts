import { formatDuration } from '../units/duration.js';
import { GitHubUnavailable } from './errors.js';

/**
 * The fetch under Octokit: every attempt gets a timeout covering headers and body, and a body larger than the
 * limit is not read past the limit. The body is read here, in full, so a stall or an oversized body mid-stream
 * fails the attempt instead of reaching Octokit as a truncated (or empty) body.
 */
export interface TransportLimits {
  timeoutMs: number;
  maxResponseBytes: number;
}

/**
 * An attempt the client stopped itself. Named AbortError because Octokit passes an AbortError through unchanged
 * and its retry plugin does not retry it: a stalled API or an oversized answer would only do the same again.
 */
class AttemptStopped extends Error {
  override name = 'AbortError';
  constructor(
    readonly reason: 'timeout' | 'too-large',
    readonly method: string,
    readonly url: string,
    readonly limit: number,
  ) {
    super(`${method} ${url}: ${reason === 'timeout' ? `no answer within ${limit} ms` : `body over ${limit} bytes`}`);
  }
}

/** Statuses whose Response must have no body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

export function boundedFetch(limits: TransportLimits, base: typeof fetch = globalThis.fetch): typeof fetch {
  return async (input, init = {}) => {
    const url = input instanceof Request ? input.url : String(input);
    const method = init.method ?? 'GET';
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), limits.timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timer.signal]) : timer.signal;
    try {
      const response = await base(input, { ...init, signal });
      const body = await readBounded(
        response,
        limits.maxResponseBytes,
        () => new AttemptStopped('too-large', method, url, limits.maxResponseBytes),
      );
      const copy = new Response(NULL_BODY.has(response.status) ? null : body, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
      Object.defineProperty(copy, 'url', { value: response.url });
      return copy;
    } catch (error) {
      if (timer.signal.aborted && !(error instanceof AttemptStopped))
        throw new AttemptStopped('timeout', method, url, limits.timeoutMs);
      throw error;
    } finally {
      clearTimeout(timeout);
    }
  };
}

async function readBounded(response: Response, max: number, tooLarge: () => Error): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  if (declared > max) {
    await reader.cancel().catch(() => {});
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

const MIB = 1024 * 1024;
const size = (bytes: number) => (bytes % MIB === 0 ? `${bytes / MIB} MiB` : `${bytes} bytes`);

/** The error chain of `error` (its causes, and the members of an AggregateError), nearest first. */
function* chain(error: unknown, depth = 0): Generator<unknown> {
  if (error === undefined || error === null || depth > 8) return;
  yield error;
  if (error instanceof AggregateError) for (const member of error.errors) yield* chain(member, depth + 1);
  if (typeof error === 'object' && 'cause' in error) yield* chain((error as { cause?: unknown }).cause, depth + 1);
}

function codeOf(error: unknown): string | undefined {
  for (const link of chain(error)) {
    const code = (link as { code?: unknown }).code;
    if (typeof code === 'string' && code) return code;
  }
  return undefined;
}

interface FetchFailure {
  status: number;
  message: string;
  response?: unknown;
  request: { method?: string; url?: string };
}

/** Octokit reports a fetch that threw (no connection, reset, TLS) as a RequestError with status 500 and no response. */
function isFetchFailure(error: unknown): error is FetchFailure {
  const candidate = error as Partial<FetchFailure> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    candidate.status === 500 &&
    candidate.response === undefined &&
    typeof candidate.request === 'object'
  );
}

/**
 * The failure of a request that got no usable answer, told as such: a timeout, an oversized body, or no
 * connection (never "GitHub answered 500", which Octokit reports for a fetch that threw). Undefined for any
 * other error (an HTTP answer, which explainGitHubError tells).
 */
export function transportFailure(error: unknown, apiUrl: string): GitHubUnavailable | undefined {
  const stopped = [...chain(error)].find((link): link is AttemptStopped => link instanceof AttemptStopped);
  if (stopped?.reason === 'timeout') {
    return new GitHubUnavailable(
      `GitHub did not answer ${stopped.method} ${stopped.url} within ${formatDuration(stopped.limit)} (the request timeout): the API at ${apiUrl} is stalled or overloaded. Check https://www.githubstatus.com (or your GitHub Enterprise Server) and run again.`,
    );
  }
  if (stopped) {
    return new GitHubUnavailable(
      `GitHub's answer to ${stopped.method} ${stopped.url} is larger than ${size(stopped.limit)}, the limit for one API response; it was not read. Check that ${apiUrl} is the GitHub API (not a proxy or a download URL).`,
    );
  }
  if (!isFetchFailure(error)) return undefined;
  const code = codeOf(error);
  const where = `${error.request.method ?? 'GET'} ${error.request.url ?? ''}`.trim();
  return new GitHubUnavailable(
    `Could not connect to ${apiUrl}${code ? ` (${code})` : ''} for ${where}, also after retries: ${error.message}. Check the API URL (GITHUB_API_URL on GitHub Enterprise Server) and that the runner can reach it.`,
  );
}
