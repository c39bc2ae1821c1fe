import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { matchesPattern, parsePolicy } from '#core/protection/policy.js';
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

describe('audit.yml and the example policy', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const yaml = (file: string) => parse(readFileSync(join(root, file), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  it('the reusable audit may list workflows and read environments (actions: read) and carries ETags across runs', () => {
    const job = yaml('.github/workflows/audit.yml').jobs.audit;
    expect(job.permissions).toMatchObject({ contents: 'read', actions: 'read', 'security-events': 'write' });
    const steps = job.steps as { uses?: string; with?: Record<string, string> }[];
    const audit = steps.find((step) => /\/actions\/branch-protection-audit(@|$)/.test(step.uses ?? ''))!;
    const restore = steps.findIndex((step) => step.uses?.startsWith('actions/cache/restore@'));
    const save = steps.findIndex((step) => step.uses?.startsWith('actions/cache/save@'));
    expect(restore).toBeGreaterThan(-1);
    expect(restore).toBeLessThan(steps.indexOf(audit));
    expect(save).toBeGreaterThan(steps.indexOf(audit));
    expect(steps[restore]!.with!.path).toBe(audit.with!['etag-cache']);
    expect(steps[save]!.with!.path).toBe(audit.with!['etag-cache']);
    expect(yaml('examples/workflows/audit.yml').jobs.audit.permissions).toMatchObject({ actions: 'read' });
  });

  it('the example policy parses and audits the production approval gate', () => {
    const policy = parsePolicy(readFileSync(join(root, 'examples/branch-policy.yml'), 'utf8'), 'branch-policy.yml');
    expect(policy.environments.find((env) => env.name === 'production')).toMatchObject({
      severity: 'P0',
      settings: { 'required-reviewers': 1, 'prevent-self-review': true, 'can-admins-bypass': false },
    });
    expect(policy.branches[0]).toMatchObject({ pattern: 'main', app: 'github-actions', allowedBypass: [] });
  });
});
