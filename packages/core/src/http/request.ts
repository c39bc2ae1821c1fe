import type { Dispatcher } from 'undici';
import { formatDuration } from '../units/duration.js';
import { classifyRequestError, type RequestFailure } from './failure.js';
import { acceptEncoding, contentCodings, decodeBody } from './encoding.js';

export interface HttpRequestOptions {
  dispatcher: Dispatcher;
  /** Whole-request budget: every redirect hop and the body read share it. */
  timeoutMs: number;
  /**
   * Headers only for the origin of the requested URL (bearer tokens, API keys, extra headers).
   * Once a redirect leaves that origin, they are not sent again on the chain, as browsers do for Authorization.
   */
  originHeaders?: Readonly<Record<string, string>>;
  followRedirects?: boolean;
  maxRedirects?: number;
  /** Bodies are read up to this many bytes; the rest is discarded (health endpoints are small). */
  maxBodyBytes?: number;
  /** Drop the body unread (asset checks, load probes). */
  discardBody?: boolean;
  /** GET unless given (a smoke check's POST or PUT). */
  method?: string;
  /** The request's body and its Content-Type, sent with `method`. */
  body?: RequestBody;
}

export interface RequestBody {
  data: Buffer;
  contentType: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as text, decoded from its Content-Encoding; '' when it could not be decoded (see bodyError). */
  body: string;
  /** The Content-Encoding the body came in (`gzip`, `br`, `deflate`, `zstd`, or a list), when it had one. */
  encoding?: string;
  /** Why the body could not be decoded (unknown coding, corrupt data); the body is then ''. */
  bodyError?: string;
  /** Where the final answer came from, after redirects. */
  finalUrl: URL;
  redirects: number;
  /** Names of the origin headers (authorization, configured headers) not sent to finalUrl: it is on another origin. */
  withheldHeaders: string[];
}

export type HttpOutcome =
  | { ok: true; response: HttpResponse; latencyMs: number }
  | {
      ok: false;
      failure: RequestFailure;
      latencyMs: number;
      finalUrl: URL;
      redirects: number;
      withheldHeaders: string[];
    };

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'deploy-gates';

async function readBody(body: Dispatcher.ResponseData['body'], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size < limit) chunks.push(chunk.subarray(0, limit - size));
    size += chunk.length;
  }
  return Buffer.concat(chunks);
}

async function decodedBody(
  body: Dispatcher.ResponseData['body'],
  contentEncoding: string | string[] | undefined,
  limit: number,
): Promise<Pick<HttpResponse, 'body' | 'encoding' | 'bodyError'>> {
  const raw = await readBody(body, limit);
  const codings = contentCodings(contentEncoding);
  if (codings.length === 0) return { body: raw.toString('utf8') };
  const encoding = codings.join(', ');
  try {
    return { body: (await decodeBody(raw, codings, limit)).toString('utf8'), encoding };
  } catch (error) {
    const why = (error as { message?: string } | undefined)?.message ?? String(error);
    return {
      body: '',
      encoding,
      bodyError: why.startsWith('Content-Encoding') ? why : `the ${encoding} body could not be decoded: ${why}`,
    };
  }
}

/**
 * Where a redirect leads a request with a method and body, as the Fetch standard (and so browsers) has it: a 303 of
 * anything but GET/HEAD, and a 301/302 of a POST, become a GET without the body; everything else repeats the method
 * and body (a PUT, PATCH or DELETE stays one through a 301/302) — but never to another origin, which would get a
 * body (a smoke check's credentials, a claim) meant for this one: that redirect is a failure instead.
 */
function redirected(
  status: number,
  method: string,
  body: RequestBody | undefined,
  crossOrigin: boolean,
): { method: string; body?: RequestBody } | { refused: string } {
  if ((status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST'))
    return { method: 'GET' };
  if (body && crossOrigin)
    return { refused: `HTTP ${status} redirect to another origin would resend the ${method} body; not followed` };
  return { method, body };
}

/** One request (GET unless given) with a hard deadline, manual redirects and failures classified; never throws. */
export async function httpRequest(url: URL, options: HttpRequestOptions): Promise<HttpOutcome> {
  const { dispatcher, timeoutMs, originHeaders = {}, followRedirects = true, maxRedirects = 5 } = options;
  const started = performance.now();
  const signal = AbortSignal.timeout(timeoutMs);
  const latency = () => performance.now() - started;
  let current = new URL(url);
  let leftOrigin = false;
  let redirects = 0;
  const withheld = () => (leftOrigin ? Object.keys(lowerCaseNames(originHeaders)) : []);
  let method = options.method ?? 'GET';
  let requestBody = options.body;
  const failed = (failure: RequestFailure): HttpOutcome => ({
    ok: false,
    failure,
    latencyMs: latency(),
    finalUrl: current,
    redirects,
    withheldHeaders: withheld(),
  });
  try {
    for (; ; redirects++) {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT };
      // Every coding the probe can decode, unless the caller asked for something else (Accept-Encoding: identity).
      if (!options.discardBody) headers['accept-encoding'] = acceptEncoding();
      if (!leftOrigin) Object.assign(headers, lowerCaseNames(originHeaders));
      if (requestBody) headers['content-type'] = requestBody.contentType;
      const { request } = await import('undici'); // loaded on first use (see health/run.ts)
      const {
        statusCode,
        headers: responseHeaders,
        body,
      } = await request(current, {
        method: method as Dispatcher.HttpMethod,
        headers,
        body: requestBody?.data,
        signal,
        dispatcher,
      });
      const location = responseHeaders.location;
      if (followRedirects && REDIRECT_STATUSES.has(statusCode) && typeof location === 'string') {
        await body.dump();
        if (redirects >= maxRedirects)
          return failed({ kind: 'redirect', message: `more than ${maxRedirects} redirects` });
        const next = new URL(location, current);
        const then = redirected(statusCode, method, requestBody, next.origin !== current.origin);
        if ('refused' in then) return failed({ kind: 'redirect', message: then.refused });
        ({ method, body: requestBody } = then);
        if (next.origin !== url.origin) leftOrigin = true;
        current = next;
        continue;
      }
      const content = options.discardBody
        ? (await body.dump(), { body: '' })
        : await decodedBody(body, responseHeaders['content-encoding'], options.maxBodyBytes ?? 1 << 20);
      return {
        ok: true,
        response: {
          status: statusCode,
          headers: responseHeaders,
          ...content,
          finalUrl: current,
          redirects,
          withheldHeaders: withheld(),
        },
        latencyMs: latency(),
      };
    }
  } catch (error) {
    return failed(classifyRequestError(error, signal.aborted, formatDuration(timeoutMs), current));
  }
}

function lowerCaseNames(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
