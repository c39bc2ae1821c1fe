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

  add(secret: string | undefined): void {
    // One- and two-character "secrets" would mangle every text; the runner ignores them too.
    if (secret && secret.trim().length > 2) this.secrets.add(secret);
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
