import type { Dispatcher } from 'undici';
import { formatDuration } from '../inputs/duration.js';
import { classifyRequestError, type RequestFailure } from './failure.js';

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
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Where the final answer came from, after redirects. */
  finalUrl: URL;
  redirects: number;
}

export type HttpOutcome =
  | { ok: true; response: HttpResponse; latencyMs: number }
  | { ok: false; failure: RequestFailure; latencyMs: number };

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'deploy-gates';

async function readBody(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size < limit) chunks.push(chunk.subarray(0, limit - size));
    size += chunk.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One GET with a hard deadline, manual redirects and failures classified; never throws. */
export async function httpGet(url: URL, options: HttpRequestOptions): Promise<HttpOutcome> {
  const { dispatcher, timeoutMs, originHeaders = {}, followRedirects = true, maxRedirects = 5 } = options;
  const started = performance.now();
  const signal = AbortSignal.timeout(timeoutMs);
  const latency = () => performance.now() - started;
  let current = new URL(url);
  let leftOrigin = false;
  try {
    for (let redirects = 0; ; redirects++) {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT };
      if (!leftOrigin) Object.assign(headers, originHeaders);
      const { request } = await import('undici'); // loaded on first use (see health/run.ts)
      const { statusCode, headers: responseHeaders, body } = await request(current, {
        method: 'GET',
        headers,
        signal,
        dispatcher,
      });
      const location = responseHeaders.location;
      if (followRedirects && REDIRECT_STATUSES.has(statusCode) && typeof location === 'string') {
        await body.dump();
        if (redirects >= maxRedirects) {
          return { ok: false, failure: { kind: 'redirect', message: `more than ${maxRedirects} redirects` }, latencyMs: latency() };
        }
        const next = new URL(location, current);
        if (next.origin !== url.origin) leftOrigin = true;
        current = next;
        continue;
      }
      const text = options.discardBody ? (await body.dump(), '') : await readBody(body, options.maxBodyBytes ?? 1 << 20);
      return {
        ok: true,
        response: { status: statusCode, headers: responseHeaders, body: text, finalUrl: current, redirects },
        latencyMs: latency(),
      };
    }
  } catch (error) {
    return { ok: false, failure: classifyRequestError(error, signal.aborted, formatDuration(timeoutMs)), latencyMs: latency() };
  }
}
