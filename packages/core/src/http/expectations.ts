import type { LineResult } from '../units/lists.js';
import type { Redactor } from '../redact.js';
import type { StatusSpec } from '../units/status.js';
import { splitPair } from '../units/lists.js';
import { oneLine } from '../text.js';
import type { HttpResponse } from './request.js';

/** `checks.db=up`: the value at a dotted path of the JSON body, compared as text. */
export interface JsonAssertion {
  text: string;
  path: string[];
  expected: string;
}

export interface ResponseExpectations {
  status: StatusSpec;
  json: readonly JsonAssertion[];
  body?: RegExp;
}

export type Verdict = { pass: true; reason: string } | { pass: false; reason: string };

export function parseJsonAssertion(line: string): LineResult<JsonAssertion> {
  const pair = splitPair(line, '=');
  const path = pair?.[0].split('.');
  if (!pair || !path || path.some((segment) => segment.trim() === '')) {
    return { problem: `"${line}" is not a path=value assertion; write e.g. status=ok or checks.db=up` };
  }
  return { value: { text: `${pair[0]}=${pair[1]}`, path: path.map((segment) => segment.trim()), expected: pair[1] } };
}

/** A short single-line excerpt of a body for error messages; secrets masked before it is cut (see oneLine). */
export function excerpt(body: string, max = 120, redactor?: Redactor): string {
  return JSON.stringify(oneLine(body, max + 1, redactor));
}

function valueAt(document: unknown, path: readonly string[]): { found: boolean; value?: unknown } {
  let current: unknown = document;
  for (const segment of path) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, segment)) return { found: false };
    current = (current as Record<string, unknown>)[segment];
  }
  return { found: true, value: current };
}

/** Scalars compare by their text (`3` matches 3 and "3", `true` matches true); objects by their JSON. */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Every assertion the parsed JSON document does not satisfy, as readable reasons (empty when all hold). */
export function jsonMismatches(document: unknown, assertions: readonly JsonAssertion[]): string[] {
  return assertions.flatMap((assertion) => {
    const { found, value } = valueAt(document, assertion.path);
    if (!found) return [`${assertion.path.join('.')} is missing (expected ${assertion.text})`];
    return asText(value) === assertion.expected ? [] : [`expected ${assertion.text}, got ${JSON.stringify(value)}`];
  });
}

/** nginx's and Caddy's answers to plain HTTP on their TLS port. */
const PLAIN_HTTP_TO_TLS_PORT =
  /plain HTTP request was sent to HTTPS port|Client sent an HTTP request to an HTTPS server/i;

/** Judges a response: status first, then the body regex, then every JSON assertion. Excerpts are masked by `redactor`. */
export function judgeResponse(response: HttpResponse, expect: ResponseExpectations, redactor?: Redactor): Verdict {
  const shown = (body: string) => excerpt(body, undefined, redactor);
  if (!expect.status.matches(response.status)) {
    if (
      response.status === 400 &&
      response.finalUrl.protocol === 'http:' &&
      PLAIN_HTTP_TO_TLS_PORT.test(response.body)
    ) {
      return {
        pass: false,
        reason: `expected ${expect.status.text}: ${response.finalUrl.host} serves TLS on that port and refused plain HTTP; use https://`,
      };
    }
    return { pass: false, reason: `expected ${expect.status.text}` };
  }
  if (response.bodyError && (expect.body || expect.json.length > 0)) return { pass: false, reason: response.bodyError };
  if (expect.body && !expect.body.test(response.body)) {
    return { pass: false, reason: `body does not match /${expect.body.source}/: ${shown(response.body)}` };
  }
  if (expect.json.length > 0) {
    let document: unknown;
    try {
      document = JSON.parse(response.body);
    } catch {
      return { pass: false, reason: `body is not JSON: ${shown(response.body)}` };
    }
    const mismatches = jsonMismatches(document, expect.json);
    if (mismatches.length > 0) return { pass: false, reason: `${mismatches.join('; ')} in ${shown(response.body)}` };
  }
  return { pass: true, reason: 'ok' };
}
