/**
 * Replaces every secret in a text with `***`, the way the runner masks logs.
 * The runner only masks what goes to the log; reports, summaries and outputs written to files
 * are not masked by anybody, so everything core writes passes through a Redactor first.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  constructor(secrets: Iterable<string> = []) {
    for (const secret of secrets) this.add(secret);
  }

  /**
   * Adds a secret and the forms a server may echo it in (secretForms); false when it is too short to be one (then
   * nothing should mask it anywhere).
   */
  add(secret: string | undefined): boolean {
    // One- and two-character "secrets" would mangle every text; the runner ignores them too.
    if (!secret || secret.trim().length <= 2) return false;
    for (const form of secretForms(secret)) this.secrets.add(form);
    return true;
  }

  get values(): readonly string[] {
    return [...this.secrets];
  }

  redact(text: string): string {
    let out = text;
    // Longest first, so a secret containing another is masked whole.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join('***');
    }
    return out;
  }
}

/**
 * A secret as written and as a server's JSON may echo it: escaped as JSON (`"` `\` and control characters), with
 * `/` as `\/` and non-ASCII as `\uXXXX` too (PHP's json_encode by default: a Laravel app returning what it got).
 * The runner masks exactly what it is told; these forms are told to it as well (action-kit's mask).
 */
export function secretForms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const php = json
    .replace(/\//g, '\\/')
    .replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return [...new Set([secret, json, json.replace(/\//g, '\\/'), php])];
}

/** Where a URL's userinfo is: after `scheme://`, up to the authority's last `@` (the authority ends at / ? # \ or a blank). */
const USERINFO = /[a-z][a-z0-9+.-]*:\/\/([^/?#\\\s]*)@/gi;

/**
 * The credentials written into the URLs of a text — `https://user:password@host/…`, one or many, on any line — as
 * secret parts: the userinfo, the username and the password, as written and percent-decoded. Read from the raw text,
 * not from parsed URLs, so that a URL too broken to parse (`http://admin:PassW0rd@host:99999/x`) is masked before its
 * input error quotes it. The username counts: it is often a token (`https://<token>@host`, `https://<token>:x-oauth-basic@…`).
 * So does the Basic credential made of them (`base64(user:password)`, what a client sends and a server may echo).
 */
export function urlCredentials(text: string): string[] {
  const parts: string[] = [];
  for (const match of text.matchAll(USERINFO)) {
    const userinfo = match[1]!;
    const colon = userinfo.indexOf(':');
    const written = colon < 0 ? [userinfo] : [userinfo, userinfo.slice(0, colon), userinfo.slice(colon + 1)];
    for (const part of written) parts.push(part, decoded(part));
    const [user, password] = colon < 0 ? [userinfo, ''] : [userinfo.slice(0, colon), userinfo.slice(colon + 1)];
    parts.push(Buffer.from(`${decoded(user)}:${decoded(password)}`).toString('base64'));
  }
  return [...new Set(parts)].filter((part) => part !== '');
}

/** Percent-decoded, or as written when it is not valid percent-encoding. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
