import type { LineResult } from '../units/lists.js';
import type { Redactor } from '../redact.js';
import type { StatusSpec } from '../units/status.js';
import { oneLine } from '../text.js';
import type { HttpResponse } from './request.js';

/**
 * `checks.db=up`: the value at a dotted path of the JSON body, compared as text. A key holding a dot, a `=` or a `"`
 * is written as a JSON string: `"resources/js/app.js".file=assets/app-4f3c.js`, `checks."db.primary"=up`.
 */
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

/** One key of a path at `from`: a JSON string (`"a.b"`) or the text up to the next `.` or `=`; undefined if bad. */
function pathSegment(line: string, from: number): { key: string; end: number } | undefined {
  if (line[from] !== '"') {
    const end = line.slice(from).search(/[.=]/);
    const key = line.slice(from, end < 0 ? line.length : from + end).trim();
    return key === '' || key.includes('"') ? undefined : { key, end: end < 0 ? line.length : from + end };
  }
  // The shortest JSON string literal from here: each closing quote candidate in turn.
  for (let close = line.indexOf('"', from + 1); close > 0; close = line.indexOf('"', close + 1)) {
    try {
      const key = JSON.parse(line.slice(from, close + 1)) as string;
      return { key, end: close + 1 };
    } catch {
      // an escaped quote inside the key: try the next one
    }
  }
  return undefined;
}

export function parseJsonAssertion(line: string): LineResult<JsonAssertion> {
  const problem = {
    problem: `"${line}" is not a path=value assertion; write e.g. status=ok, checks.db=up or "resources/js/app.js".file=app.js (a key with a dot in double quotes)`,
  };
  const path: string[] = [];
  for (let at = 0; ;) {
    const segment = pathSegment(line, at);
    if (!segment) return problem;
    path.push(segment.key);
    at = segment.end;
    if (line[at] === '=') {
      const expected = line.slice(at + 1).trim();
      return { value: { text: `${line.slice(0, at).trim()}=${expected}`, path, expected } };
    }
    if (line[at] !== '.') return problem;
    at++;
  }
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

/**
 * Every assertion the parsed JSON document does not satisfy, as readable reasons (empty when all hold). The value
 * found is the server's: shown as JSON, masked and cut like a body's excerpt.
 */
export function jsonMismatches(document: unknown, assertions: readonly JsonAssertion[], redactor?: Redactor): string[] {
  return assertions.flatMap((assertion) => {
    const { found, value } = valueAt(document, assertion.path);
    const path = assertion.text.slice(0, assertion.text.length - assertion.expected.length - 1);
    if (!found) return [`${path} is missing (expected ${assertion.text})`];
    if (asText(value) === assertion.expected) return [];
    return [`expected ${assertion.text}, got ${oneLine(JSON.stringify(value) ?? 'undefined', 121, redactor)}`];
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
    // The server's own words first: an excerpt of its body (masked, then cut and quoted as one line).
    return { pass: false, reason: `expected ${expect.status.text}${response.body ? `: ${shown(response.body)}` : ''}` };
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
    const mismatches = jsonMismatches(document, expect.json, redactor);
    if (mismatches.length > 0) return { pass: false, reason: `${mismatches.join('; ')} in ${shown(response.body)}` };
  }
  return { pass: true, reason: 'ok' };
}
