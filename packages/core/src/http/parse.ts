import { splitPair, type LineResult } from '../units/lists.js';

/**
 * The parsing of what an HTTP check is given as text: URLs, header lines, body patterns. Each returns the value or a
 * problem that quotes the text and shows the form it should take; the action names the input.
 */

/** An absolute http(s) URL. */
export function httpUrl(text: string): LineResult<URL> {
  // The URL parser drops tabs and line breaks inside a URL: what was written would not be what is probed.
  if (/\p{Cc}/u.test(text))
    return {
      problem: `"${text.replace(/\p{Cc}/gu, ' ')}" has a tab or control character; e.g. https://staging.example.com/health`,
    };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: `"${text}" is not a URL; write it in full, e.g. https://staging.example.com/health` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { problem: `"${text}" is not an http(s) URL; e.g. https://staging.example.com/health` };
  return { value: url };
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A header line `Name: value`, the name lower-cased. */
export function headerLine(line: string): LineResult<[string, string]> {
  const pair = splitPair(line, ':');
  // Only the name is quoted: a line without its colon (`Authorization Bearer …`) holds the value after it.
  const name = line.includes(':') ? line.split(':')[0]! : (line.trim().split(/\s+/)[0] ?? '');
  if (!pair || !HEADER_NAME.test(pair[0]))
    return { problem: `"${name}: …" is not a header line; write Name: value, e.g. X-Smoke-Test: 1` };
  return { value: [pair[0].toLowerCase(), pair[1]] };
}

/** A regular expression a body must match. */
export function bodyPattern(text: string): LineResult<RegExp> {
  try {
    return { value: new RegExp(text) };
  } catch (error) {
    return {
      problem: `"${text}" is not a valid regular expression (${(error as Error).message}); e.g. "status":\\s*"ok"`,
    };
  }
}

const SECRET_HEADER = /auth|cookie|token|secret|key|session|signature/i;

/**
 * The values of headers whose names say they carry a credential (`Authorization: …`, `X-Api-Key: …`) — also of a
 * line whose colon was forgotten (`Authorization Bearer …`): all after its first word.
 */
export const secretHeaderValues = (raw: string) =>
  raw.split('\n').map((line) => {
    const [name, ...value] = line.split(':');
    if (value.length === 0) {
      const [first = '', ...rest] = line.trim().split(/\s+/);
      return SECRET_HEADER.test(first) ? rest.join(' ') : undefined;
    }
    return name && SECRET_HEADER.test(name) ? value.join(':').trim() : undefined;
  });
