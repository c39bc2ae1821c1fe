/**
 * Renders what an action prints the way the runner shows it: workflow commands (`::error::`, `::group::`, …)
 * become readable lines, `::add-mask::` values are masked in everything printed afterwards.
 */
export class CommandRenderer {
  private readonly masks: string[] = [];

  constructor(private readonly debug: boolean) {}

  mask(text: string): string {
    let out = text;
    for (const secret of this.masks) out = out.split(secret).join('***');
    return out;
  }

  /** Returns the line to print, or undefined for lines the runner does not show. */
  render(line: string): string | undefined {
    const match = /^::([a-z-]+)(?: ([^:]*))?::(.*)$/.exec(line);
    if (!match) return this.mask(line);
    const [, command, properties = '', rawValue] = match as unknown as [string, string, string | undefined, string];
    const value = unescapeData(rawValue);
    switch (command) {
      case 'add-mask':
        if (value.trim().length > 0) this.masks.push(value);
        this.masks.sort((a, b) => b.length - a.length);
        return undefined;
      case 'debug':
        return this.debug ? this.mask(`##[debug]${value}`) : undefined;
      case 'error':
      case 'warning':
      case 'notice': {
        const title = /(?:^|,)title=([^,]*)/.exec(properties)?.[1];
        const label = command[0]!.toUpperCase() + command.slice(1);
        return this.mask(`${label}${title ? ` (${unescapeProperty(title)})` : ''}: ${value}`);
      }
      case 'group':
        return this.mask(`▸ ${value}`);
      case 'endgroup':
      case 'save-state':
      case 'set-output':
      case 'echo':
        return undefined;
      default:
        return this.mask(line);
    }
  }
}

function unescapeData(text: string): string {
  return text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

function unescapeProperty(text: string): string {
  return unescapeData(text).replace(/%3A/g, ':').replace(/%2C/g, ',');
}

/** Parses a GITHUB_OUTPUT / GITHUB_STATE file: `name=value` lines and `name<<DELIM … DELIM` blocks. */
export function parseFileCommands(text: string): Map<string, string> {
  const values = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc as unknown as [string, string, string];
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) body.push(lines[i]!);
      values.set(name, body.join('\n'));
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return values;
}
