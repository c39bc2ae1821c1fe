import { headline, statusIcon, tally, type CheckResult } from './result.js';

export interface Summary {
  title: string;
  results: readonly CheckResult[];
  /** Label/value rows shown under the table: evidence such as attempts used or a run URL. */
  facts?: readonly (readonly [string, string])[];
  /** Heading of the first column, what one row is: `Check` unless given (pre-switch-gates: `Gate`). */
  itemLabel?: string;
}

/**
 * Text shown as itself in the job summary, which GitHub renders as markdown with HTML: names and details come from
 * servers, the GitHub API and hosts, so none of it may become markup (`<h1>`, `**x**`, `[link](…)`, an image, a
 * table cell break, a link GitHub makes by itself). HTML's special characters become entities, markdown's inline
 * punctuation is backslash-escaped, line breaks become spaces (a table row is one line). GitHub also links bare URLs
 * (`https://…`, `www.…`), e-mail addresses and `@mentions` (which notify the person) in text: a zero-width space
 * (`&#8203;`) after the `:` of `scheme:`, in `www.` and after `@` keeps each as text and reads the same.
 */
export function markdownText(text: string): string {
  return (
    text
      .replace(/\r\n|\r|\n/g, ' ')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/[\\`*_[\]|~!$]/g, '\\$&')
      // Every `://` broken, whatever the scheme (a scheme-matching pattern was quadratic on long runs of letters).
      .replace(/:(?=\/\/)/g, ':&#8203;')
      // Every `www.`, not only at a word boundary: GitHub links `_www.x` and `x_www.x` too.
      .replace(/(www)\./gi, '$1&#8203;.')
      .replace(/@(?=\w)/g, '@&#8203;')
  );
}

const cell = markdownText;

/** Renders the job summary: a headline, a table of results and optional facts. */
export function renderSummary({ title, results, facts = [], itemLabel = 'Check' }: Summary): string {
  const ok = tally(results).failed === 0;
  const lines = [
    `### ${ok ? '✅' : '❌'} ${markdownText(headline(title, results))}`,
    '',
    `| ${cell(itemLabel)} | Result | Detail | Time |`,
    '| --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${cell(r.name)} | ${statusIcon(r.status)} ${r.status} | ${cell(r.detail)} | ${Math.round(r.durationMs)} ms |`,
    ),
  ];
  if (facts.length > 0) {
    lines.push('', '| | |', '| --- | --- |', ...facts.map(([label, value]) => `| ${cell(label)} | ${cell(value)} |`));
  }
  return `${lines.join('\n')}\n`;
}
