import { describe, expect, it } from '@jest/globals';
import { data, Evaluator, Lexer, Parser } from '@actions/expressions';
import { truthy } from '@actions/expressions/result';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../support/paths.js';

// deploy.yml's decisions, evaluated by GitHub's own expression engine (@actions/expressions, the one
// @actions/workflow-parser uses) over the outcomes a run can have: when the rollback runs, and what the deployment
// record says afterwards. Status functions are given as GitHub defines them for a job: failure() when a job it
// depends on failed, cancelled() when the run was cancelled.
const workflow = parse(readFileSync(join(repoRoot, '.github/workflows/deploy.yml'), 'utf8')) as {
  jobs: Record<string, { if?: string; steps: { id?: string; if?: string; with?: Record<string, string> }[] }>;
};

interface Run {
  deploy: {
    result: string;
    switched?: string;
    previous?: string;
    rolledBack?: string;
    healthy?: string;
    current?: string;
  };
  smoke: string;
  rollback?: { result: string; healthy?: string };
  cancelled?: boolean;
}

function evaluate(expression: string, run: Run): data.ExpressionData {
  const text = expression.trim().replace(/^\$\{\{([\s\S]*)\}\}$/, '$1');
  const context = JSON.parse(
    JSON.stringify({
      inputs: { environment: 'stage' },
      needs: {
        deploy: {
          result: run.deploy.result,
          outputs: {
            'deployment-id': '1001',
            'previous-sha': 'a'.repeat(40),
            switched: run.deploy.switched ?? '',
            'previous-release': run.deploy.previous ?? '',
            'rolled-back': run.deploy.rolledBack ?? '',
            healthy: run.deploy.healthy ?? '',
            'current-release': run.deploy.current ?? '',
          },
        },
        smoke: { result: run.smoke, outputs: {} },
        rollback: { result: run.rollback?.result ?? 'skipped', outputs: { healthy: run.rollback?.healthy ?? '' } },
      },
    }),
    data.reviver,
  ) as data.Dictionary;
  const failed = [run.deploy.result, run.smoke, run.rollback?.result].includes('failure');
  const status = (value: () => boolean) => ({ minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(value()) });
  const functions = new Map([
    ['failure', { name: 'failure', ...status(() => failed) }],
    ['cancelled', { name: 'cancelled', ...status(() => run.cancelled ?? false) }],
    ['always', { name: 'always', ...status(() => true) }],
    ['success', { name: 'success', ...status(() => !failed && !run.cancelled) }],
  ]);
  const tokens = new Lexer(text).lex().tokens;
  const expr = new Parser(tokens, ['inputs', 'needs'], [...functions.values()]).parse();
  return new Evaluator(expr, context, functions).evaluate();
}

const PREVIOUS = '20261123_070000-11111111';
const rollbackRuns = (run: Run) => truthy(evaluate(workflow.jobs.rollback!.if!, run));
const record = workflow.jobs.record!.steps[0]!.with!;

describe('deploy.yml: when the rollback runs', () => {
  const switched = { switched: 'true', previous: PREVIOUS };
  it.each<[string, boolean, Run]>([
    ['all passed', false, { deploy: { result: 'success', ...switched }, smoke: 'success' }],
    ['no smoke test, deploy passed', false, { deploy: { result: 'success', ...switched }, smoke: 'skipped' }],
    ['smoke failed after the switch', true, { deploy: { result: 'success', ...switched }, smoke: 'failure' }],
    ['health failed after the switch', true, { deploy: { result: 'failure', ...switched }, smoke: 'skipped' }],
    [
      'the run was cancelled during health-retry',
      true,
      { deploy: { result: 'cancelled', ...switched }, smoke: 'skipped', cancelled: true },
    ],
    [
      'the run was cancelled during smoke',
      true,
      { deploy: { result: 'success', ...switched }, smoke: 'cancelled', cancelled: true },
    ],
    ['a gate failed before the switch', false, { deploy: { result: 'failure' }, smoke: 'skipped' }],
    [
      'smoke failed on a first deploy (nothing to go back to)',
      false,
      { deploy: { result: 'success', switched: 'true' }, smoke: 'failure' },
    ],
  ])('%s → rollback %s', (_what, expected, run) => {
    expect(rollbackRuns(run)).toBe(expected);
  });
});

describe('deploy.yml: what the deployment record says', () => {
  const outcome = (run: Run) => evaluate(record.outcome!, run).coerceString();
  const rolledBackTo = (run: Run) => evaluate(record['rolled-back-to']!, run).coerceString();
  const live = { result: 'success', switched: 'true', previous: PREVIOUS };

  it('success only when deploy passed and smoke passed or did not run', () => {
    expect(outcome({ deploy: live, smoke: 'success' })).toBe('success');
    expect(outcome({ deploy: live, smoke: 'skipped' })).toBe('success');
    expect(outcome({ deploy: live, smoke: 'failure' })).toBe('failure');
    expect(outcome({ deploy: live, smoke: 'cancelled', cancelled: true })).toBe('failure');
    expect(outcome({ deploy: { ...live, result: 'failure' }, smoke: 'skipped' })).toBe('failure');
    expect(outcome({ deploy: { ...live, result: 'cancelled' }, smoke: 'skipped', cancelled: true })).toBe('failure');
  });

  it('names the release rolled back to only after a healthy rollback', () => {
    const failed = { deploy: live, smoke: 'failure' };
    expect(rolledBackTo({ ...failed, rollback: { result: 'success', healthy: 'true' } })).toBe(PREVIOUS);
    expect(rolledBackTo({ ...failed, rollback: { result: 'failure', healthy: 'false' } })).toBe('');
    expect(rolledBackTo({ ...failed, rollback: { result: 'failure' } })).toBe('');
    expect(rolledBackTo({ deploy: live, smoke: 'success' })).toBe('');
  });

  it('runs whenever the deploy job created a deployment, cancelled runs included', () => {
    const recordRuns = (run: Run) => truthy(evaluate(workflow.jobs.record!.if!, run));
    expect(recordRuns({ deploy: live, smoke: 'success' })).toBe(true);
    expect(recordRuns({ deploy: { ...live, result: 'cancelled' }, smoke: 'skipped', cancelled: true })).toBe(true);
  });
});

describe('deploy.yml: when the rollback job marks the release bad', () => {
  const step = workflow.jobs.rollback!.steps.find((candidate) => candidate.id === 'mark-bad')!;
  const marks = (run: Run) => truthy(evaluate(step.if!, run));
  const NEW = '20261123_080000-22222222';
  const switched = { switched: 'true', previous: PREVIOUS, current: NEW };

  it('marks the release whose health check or smoke test failed, and only that one', () => {
    expect(step.with).toMatchObject({ mode: 'mark-bad', release: '${{ needs.deploy.outputs.current-release }}' });
    expect(marks({ deploy: { result: 'failure', healthy: 'false', ...switched }, smoke: 'skipped' })).toBe(true);
    expect(marks({ deploy: { result: 'success', healthy: 'true', ...switched }, smoke: 'failure' })).toBe(true);
  });

  it('does not mark a release for a cancelled run or a failure that is not its health or smoke', () => {
    const cancelled = {
      deploy: { result: 'cancelled', healthy: 'false', ...switched },
      smoke: 'skipped',
      cancelled: true,
    };
    expect(marks(cancelled)).toBe(false);
    // An after-switch hook failed: release-switch rolled back and recorded the release bad itself; health never ran.
    expect(marks({ deploy: { result: 'failure', rolledBack: 'true', ...switched }, smoke: 'skipped' })).toBe(false);
    expect(marks({ deploy: { result: 'failure', healthy: 'false', switched: 'true' }, smoke: 'skipped' })).toBe(false);
  });
});
