import { markdownText } from '../report/markdown.js';
import { oneLine } from '../text.js';
import { statusIcon } from '../report/result.js';
import { renderRolloutTable } from '../rollout/markdown.js';
import type { Ledger } from './schema.js';

/** The GO / NO-GO line that tops the summary (and the demo's output). */
export function verdictLine(ledger: Ledger): string {
  // One line: it is an output, and its reason names reports by their file names.
  return `${ledger.verdict === 'GO' ? '✅ GO' : '❌ NO-GO'}: ${oneLine(ledger.reason, 2000)}`;
}

function duration(startedAt: string | null, endedAt: string): string {
  if (!startedAt) return '';
  const ms = Date.parse(endedAt) - Date.parse(startedAt);
  return Number.isFinite(ms) && ms >= 0 ? ` (${(ms / 1000).toFixed(1)} s)` : '';
}

/**
 * GitHub drops a step summary over 1 MiB whole, verdict line included: report text is cut per cell (escaping can
 * make it four times longer) and the table after MAX_ROWS rows. The ledger JSON keeps every result whole.
 */
const MAX_CELL = 300;
const MAX_ROWS = 300;
const cellText = (text: string) => markdownText(oneLine(text, MAX_CELL));

const value = (text: string | null) => (text === null ? '—' : cellText(text));
/** A code span only for hex (a SHA): nothing can be escaped inside one, so any other text is shown as escaped text. */
const code = (text: string | null) => (text === null ? '—' : /^[0-9a-f]+$/i.test(text) ? `\`${text}\`` : value(text));

/** A link only to an http(s) URL, its target percent-encoded so no `)`, space or `<` ends or breaks it. */
function link(label: string, url: string | null): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url ?? '');
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
  const target = parsed.href.replace(/[()<>\s|\\[\]`'"]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `[${markdownText(label)}](${target})`;
}

/** One row per gate or check of each stage (a stage without results is one row), at most MAX_ROWS. */
function stageRows(ledger: Ledger): string[] {
  const rows = ledger.stages.flatMap((stage) =>
    stage.results.length === 0
      ? [`| ${cellText(stage.name)} | — | ${stage.ok ? '✅ pass' : '❌ fail'} | | ${Math.round(stage.durationMs)} ms |`]
      : stage.results.map(
          (result) =>
            `| ${cellText(stage.name)} | ${cellText(result.name)} | ${statusIcon(result.status)} ${result.status} | ${cellText(result.detail)} | ${Math.round(result.durationMs)} ms |`,
        ),
  );
  if (rows.length <= MAX_ROWS) return rows;
  return [...rows.slice(0, MAX_ROWS), `| … | ${rows.length - MAX_ROWS} more rows in the ledger JSON | | | |`];
}

/** The ledger as a job summary: the verdict line first, then the facts, then each stage's gates and checks with their times. */
export function renderLedger(ledger: Ledger): string {
  const facts: [string, string][] = [
    ['Run', link(ledger.run.id ?? 'run', ledger.run.url) ?? value(ledger.run.url ?? ledger.run.id)],
    ['Environment', value(ledger.environment)],
    ['Approver', value(ledger.approver ?? (ledger.environment ? 'none required' : null))],
    ['Commit', code(ledger.sha)],
    ['Build run', link('build', ledger.buildRun.url) ?? value(ledger.buildRun.url)],
    ['Bundle SHA-256', code(ledger.bundle.sha256)],
    ['Previous release', value(ledger.releases.previous)],
    ['New release', value(ledger.releases.new)],
    ['Current release', value(ledger.releases.current)],
    ['Rolled back', ledger.rolledBack ? 'yes' : 'no'],
    ['Started', value(ledger.startedAt)],
    ['Ended', `${markdownText(ledger.endedAt)}${duration(ledger.startedAt, ledger.endedAt)}`],
  ];
  const lines = [
    `## ${markdownText(verdictLine(ledger))}`,
    '',
    '| | |',
    '| --- | --- |',
    ...facts.map(([label, text]) => `| ${label} | ${text} |`),
    '',
    ...(ledger.services
      ? [
          '### Services in rollout order',
          '',
          renderRolloutTable({ services: ledger.services, rollback: ledger.servicesRollback }).trimEnd(),
          '',
        ]
      : []),
    '| Stage | Gate / check | Result | Detail | Time |',
    '| --- | --- | --- | --- | --- |',
  ];
  lines.push(...stageRows(ledger));
  if (ledger.jobs.length > 0)
    lines.push(
      '',
      `Jobs: ${ledger.jobs.map((job) => `${markdownText(job.name)} ${markdownText(job.result)}`).join(', ')}`,
    );
  lines.push('', `Ledger format ${ledger.format} v${ledger.version}.`);
  return `${lines.join('\n')}\n`;
}
