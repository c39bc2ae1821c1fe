import { formatDuration } from '../units/duration.js';
import { markdownText } from '../report/markdown.js';

/** The parts of a rollout a table needs (a RolloutOutcome, or what a ledger read back from a report). */
export interface RolloutTableInput {
  services: readonly {
    name: string;
    target: string;
    previousRelease: string | null;
    newRelease: string;
    state: string;
    health: { healthy: boolean; durationMs: number } | null;
    rolledBackAt: string | null;
    rollbackHealth: { healthy: boolean; durationMs: number } | null;
  }[];
  rollback: {
    order: readonly string[];
    ok: boolean;
    durationMs: number;
    budgetMs: number;
    withinBudget: boolean;
  } | null;
}

const STATE: Record<string, string> = {
  deployed: '✅ deployed',
  failed: '❌ failed',
  'rolled-back': '↩️ rolled back',
  'rollback-failed': '🚨 ROLLBACK FAILED',
  untouched: '⏭️ not touched',
};

const health = (h: { healthy: boolean; durationMs: number } | null) =>
  h ? `${h.healthy ? '✅ healthy' : '❌ unhealthy'} (${formatDuration(h.durationMs)})` : '—';

/** The rollout as a table in rollout order, then the rollback time against its target. */
export function renderRolloutTable(rollout: RolloutTableInput): string {
  const lines = [
    '| # | Service | Target | Previous release | New release | Health | Result | Rolled back at | Health after rollback |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rollout.services.map((s, index) =>
      [
        String(index + 1),
        markdownText(s.name),
        markdownText(s.target),
        s.previousRelease === null ? '—' : markdownText(s.previousRelease),
        markdownText(s.newRelease),
        health(s.health),
        STATE[s.state] ?? markdownText(s.state),
        s.rolledBackAt === null ? '—' : markdownText(s.rolledBackAt),
        health(s.rollbackHealth),
      ]
        .join(' | ')
        .replace(/^/, '| ')
        .replace(/$/, ' |'),
    ),
  ];
  const rb = rollout.rollback;
  if (rb) {
    lines.push(
      '',
      `**Rollback ${rb.ok ? 'done' : 'FAILED'}** in ${formatDuration(rb.durationMs)} of the ${formatDuration(rb.budgetMs)} target ` +
        `(${rb.withinBudget ? 'within' : 'OVER'} budget); order: ${rb.order.map(markdownText).join(' → ') || 'nothing to roll back'}.`,
    );
  }
  return `${lines.join('\n')}\n`;
}
