/**
 * A line of YAML indented with a tab, told in words: the parser's own answer is several messages about tabs and
 * the structure it could not see. Undefined when every line is indented with spaces.
 */
export function tabIndentProblem(text: string): string | undefined {
  const line = text.split(/\r?\n/).findIndex((row) => /^ *\t/.test(row));
  return line < 0 ? undefined : `line ${line + 1}: indented with a tab; YAML indents with spaces only`;
}
