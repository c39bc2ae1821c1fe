/** Text on one line for a log line, a table cell or an error message: whitespace collapsed, at most `max` characters. */
export function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** A line the runner reads as a workflow command: `::name …::value` (or the older `##[name]value`), after any blanks. */
const WORKFLOW_COMMAND = /^\s*(::|##\[)/;

/**
 * Text made safe for a step's log. The runner reads every line a step prints that starts with `::` (or `##[`) as a
 * workflow command — an annotation, a mask, an output, `stop-commands` — so text a server, the GitHub API or a host
 * chose must never start a line: such a line is shown behind `> `, not obeyed. Lines end at \n, \r\n and \r, as the
 * runner reads them.
 */
export function logSafe(text: string): string {
  return text
    .split(/\r\n|\r|\n/)
    .map((line) => (WORKFLOW_COMMAND.test(line) ? `> ${line}` : line))
    .join('\n');
}

/** Whether a line of a step's log would be read as a workflow command (for tests and checks). */
export function isWorkflowCommand(line: string): boolean {
  return WORKFLOW_COMMAND.test(line);
}
