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

  /** Adds a secret; false when it is too short to be one (then nothing should mask it anywhere). */
  add(secret: string | undefined): boolean {
    // One- and two-character "secrets" would mangle every text; the runner ignores them too.
    if (!secret || secret.trim().length <= 2) return false;
    this.secrets.add(secret);
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

/** Where a URL's userinfo is: after `scheme://`, up to the authority's last `@` (the authority ends at / ? # \ or a blank). */
const USERINFO = /[a-z][a-z0-9+.-]*:\/\/([^/?#\\\s]*)@/gi;

/**
 * The credentials written into the URLs of a text — `https://user:password@host/…`, one or many, on any line — as
 * secret parts: the userinfo, the username and the password, as written and percent-decoded. Read from the raw text,
 * not from parsed URLs, so that a URL too broken to parse (`http://admin:PassW0rd@host:99999/x`) is masked before its
 * input error quotes it. The username counts: it is often a token (`https://<token>@host`, `https://<token>:x-oauth-basic@…`).
 */
export function urlCredentials(text: string): string[] {
  const parts: string[] = [];
  for (const match of text.matchAll(USERINFO)) {
    const userinfo = match[1]!;
    const colon = userinfo.indexOf(':');
    const written = colon < 0 ? [userinfo] : [userinfo, userinfo.slice(0, colon), userinfo.slice(colon + 1)];
    for (const part of written) {
      parts.push(part);
      try {
        parts.push(decodeURIComponent(part));
      } catch {
        // Not valid percent-encoding: masked as written.
      }
    }
  }
  return [...new Set(parts)].filter((part) => part !== '');
}
