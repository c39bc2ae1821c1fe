import { headline, statusIcon, tally, type CheckResult } from './result.js';

export interface Summary {
  title: string;
  results: readonly CheckResult[];
  /** Label/value rows shown under the table: evidence such as attempts used or a run URL. */
  facts?: readonly (readonly [string, string])[];
  /** Heading of the first column, what one row is: `Check` unless given (pre-switch-gates: `Gate`). */
  itemLabel?: string;
}

/** Makes text safe inside a markdown table cell. */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ').replace(/`/g, "'");
}

/** Renders the job summary: a headline, a table of results and optional facts. */
export function renderSummary({ title, results, facts = [], itemLabel = 'Check' }: Summary): string {
  const ok = tally(results).failed === 0;
  const lines = [
    `### ${ok ? '✅' : '❌'} ${headline(title, results)}`,
    '',
    `| ${cell(itemLabel)} | Result | Detail | Time |`,
    '| --- | --- | --- | --- |',
    ...results.map(
      (r) => `| ${cell(r.name)} | ${statusIcon(r.status)} ${r.status} | ${cell(r.detail)} | ${Math.round(r.durationMs)} ms |`,
    ),
  ];
  if (facts.length > 0) {
    lines.push('', '| | |', '| --- | --- |', ...facts.map(([label, value]) => `| ${cell(label)} | ${cell(value)} |`));
  }
  return `${lines.join('\n')}\n`;
}
