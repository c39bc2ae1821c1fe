import { describe, expect, it } from '@jest/globals';
import { matchesPattern } from '#core/protection/policy.js';
import { addWorkflowChecks, canReport, emptyProducers } from '#core/protection/workflows.js';

describe('check names the jobs of a workflow can report', () => {
  const producers = emptyProducers();
  addWorkflowChecks(
    producers,
    '.github/workflows/ci.yml',
    `jobs:
  unit:
    name: Unit
    strategy: { matrix: { os: [ubuntu, macos], node: [20, 24] } }
  e2e:
    strategy: { matrix: { browser: [chrome], include: [{ browser: firefox }] } }
  deploy:
    uses: ./.github/workflows/deploy.yml
  plain: {}
`,
  );

  it('expands a matrix into `name (a, b)` per combination, in key order', () => {
    expect(canReport(producers, 'Unit (ubuntu, 20)')).toBe(true);
    expect(canReport(producers, 'Unit (macos, 24)')).toBe(true);
    expect(canReport(producers, 'Unit')).toBe(false);
    expect(canReport(producers, 'Unit (windows, 20)')).toBe(false);
  });

  it('takes a matrix with include as any `name (…)`, a called workflow as `caller / called`, a job without name by its id', () => {
    expect(canReport(producers, 'e2e (firefox)')).toBe(true);
    expect(canReport(producers, 'deploy / ship')).toBe(true);
    expect(canReport(producers, 'plain')).toBe(true);
    expect(canReport(producers, 'Plain')).toBe(false);
  });

  it('counts a workflow it cannot parse as able to report anything (never a false P1)', () => {
    const broken = emptyProducers();
    addWorkflowChecks(broken, 'bad.yml', 'jobs: [unclosed');
    expect(canReport(broken, 'anything')).toBe(true);
  });
});

describe('policy branch globs', () => {
  it('matches * within a segment and ** across segments', () => {
    expect(matchesPattern('release/*', 'release/1.2')).toBe(true);
    expect(matchesPattern('release/*', 'release/1.2/hotfix')).toBe(false);
    expect(matchesPattern('release/**', 'release/1.2/hotfix')).toBe(true);
    expect(matchesPattern('main', 'main2')).toBe(false);
  });
});
