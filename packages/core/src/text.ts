import type { Redactor } from './redact.js';

/**
 * Text on one line for a log line, a table cell or an error message: whitespace collapsed, at most `max` characters.
 * Given the redactor, secrets are masked first and the text cut after: a secret cut short is no longer a secret
 * anybody can find and mask (`Bearer Tk-SECRET-b…`). The cut never splits a mask, and never ends on the beginning
 * of a secret: it goes back before it.
 */
export function oneLine(text: string, max: number, redactor?: Redactor): string {
  const line = (redactor ? redactor.redact(text) : text).replace(/\s+/g, ' ').trim();
  if (line.length <= max) return line;
  let cut = line.slice(0, max - 1);
  const mask = line.lastIndexOf('***', max - 2);
  if (mask >= 0 && mask + 3 > cut.length) cut = cut.slice(0, mask);
  for (const secret of redactor?.values ?? []) {
    for (let length = Math.min(secret.length - 1, cut.length); length >= 3; length--) {
      if (cut.endsWith(secret.slice(0, length))) {
        cut = cut.slice(0, -length);
        break;
      }
    }
  }
  return `${cut.trimEnd()}…`;
}

/** A line the runner reads as a workflow command: `::name …::value` at its start, after any blanks. */
const WORKFLOW_COMMAND = /^\s*::/;
/**
 * The runner's older command syntax, `##[name …]value`, which it looks for anywhere in a line (actions/runner
 * ActionCommand.TryParse: `message.IndexOf("##[")`) whenever the line is not a `::` command.
 */
const LEGACY_COMMAND = /##\[/g;

/**
 * Text made safe for a step's log. The runner reads a line a step prints as a workflow command — an annotation, a
 * mask, an output, `stop-commands` — when it starts with `::` or holds `##[` anywhere, so text a server, the GitHub
 * API or a host chose must never do either: a `::` line is shown behind `> `, and `##[` as `## [`; neither is obeyed.
 * Lines end at \n, \r\n and \r, as the runner reads them.
 */
export function logSafe(text: string): string {
  return text
    .split(/\r\n|\r|\n/)
    .map((line) => noLegacyCommand(WORKFLOW_COMMAND.test(line) ? `> ${line}` : line))
    .join('\n');
}

/**
 * `##[` written as `## [`: for text inside a `::error::`/`::warning::` command too, which the runner reads as that
 * command, but which would become an older command if it ever failed to parse as one.
 */
export function noLegacyCommand(text: string): string {
  return text.replace(LEGACY_COMMAND, '## [');
}

/** Whether a line of a step's log would be read as a workflow command (for tests and checks). */
export function isWorkflowCommand(line: string): boolean {
  return WORKFLOW_COMMAND.test(line) || line.includes('##[');
}
