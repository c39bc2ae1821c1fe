import { describe, expect, it } from '@jest/globals';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLedger, type ReportFile } from '#core/ledger/build.js';
import { renderLedger, verdictLine } from '#core/ledger/markdown.js';
import { readReports } from '#core/ledger/read.js';
import { LEDGER_FORMAT, ledgerSchema } from '#core/ledger/schema.js';

// Reports shaped as the actions write them (the fields the ledger reads, plus a few it must ignore).
const NEW = '20251102_154900-f0959baf';
const OLD = '20251101_090000-1f2e3d4c';
const SHA256 = 'a'.repeat(64);
const pass = (name: string, ms = 5) => ({ name, status: 'pass', detail: 'ok', durationMs: ms });
const verify: ReportFile = {
  name: 'verify-bundle-sha',
  document: {
    action: 'verify-bundle-sha',
    ok: true,
    sha256: SHA256,
    releaseName: NEW,
    releaseDir: `/srv/app/releases/${NEW}`,
    results: [pass('Checksum'), pass('Unpack')],
  },
};
const gates: ReportFile = {
  name: 'pre-switch-gates',
  document: {
    action: 'pre-switch-gates',
    passed: 2,
    failed: 0,
    total: 2,
    durationMs: 40,
    results: [pass('file server.mjs'), pass('node --check')],
  },
};
const switched: ReportFile = {
  name: 'release-switch',
  document: {
    action: 'release-switch',
    ok: true,
    mode: 'switch',
    requested: NEW,
    previousRelease: `releases/${OLD}`,
    currentRelease: `releases/${NEW}`,
    switched: true,
    rolledBack: false,
    results: [pass('Lock'), pass('Switch')],
  },
};
const healthy: ReportFile = {
  name: 'health-retry',
  document: { action: 'health-retry', healthy: true, durationMs: 120, results: [pass('GET /health', 12)] },
};
const unhealthy: ReportFile = {
  name: 'health-retry',
  document: {
    action: 'health-retry',
    healthy: false,
    durationMs: 3000,
    results: [{ name: 'GET /health', status: 'fail', detail: 'HTTP 500 after 3 attempts', durationMs: 3000 }],
  },
};
const rollback: ReportFile = {
  name: 'rollback',
  document: {
    action: 'release-switch',
    ok: true,
    mode: 'rollback',
    requested: OLD,
    previousRelease: `releases/${NEW}`,
    currentRelease: `releases/${OLD}`,
    switched: true,
    rolledBack: false,
    results: [pass('Rollback')],
  },
};
const rollbackHealth: ReportFile = {
  name: 'rollback-health-retry',
  document: { action: 'health-retry', healthy: true, durationMs: 30, results: [pass('GET /health')] },
};
const facts = {
  environment: 'stage',
  sha: 'f0959baf'.padEnd(40, '0'),
  endedAt: '2025-11-02T15:50:00.000Z',
  startedAt: '2025-11-02T15:49:00.000Z',
  run: { url: 'https://github.com/o/r/actions/runs/42', id: '42' },
};

describe('deployment ledger', () => {
  it('GO: the new release is live and every stage passed; facts taken from the reports', () => {
    const ledger = buildLedger([healthy, switched, gates, verify], facts); // any order in, the deploy's order out
    expect(ledgerSchema.parse(ledger)).toEqual(ledger);
    expect(ledger).toMatchObject({
      format: LEDGER_FORMAT,
      version: 1,
      verdict: 'GO',
      environment: 'stage',
      bundle: { sha256: SHA256 },
      releases: { previous: OLD, new: NEW, current: NEW },
      rolledBack: false,
      approver: null,
    });
    expect(ledger.stages.map((stage) => stage.name)).toEqual([
      'verify-bundle-sha',
      'pre-switch-gates',
      'release-switch',
      'health-retry',
    ]);
    expect(ledger.stages[1]).toMatchObject({
      ok: true,
      durationMs: 40,
      results: [{ name: 'file server.mjs', status: 'pass' }, { name: 'node --check' }],
    });
    expect(verdictLine(ledger)).toBe(`✅ GO: ${NEW} is live on stage; 7 gates and checks passed`);
  });

  it('NO-GO after a failed health check: rolled back, the previous release current, the failure named', () => {
    const ledger = buildLedger([verify, gates, switched, unhealthy, rollback, rollbackHealth], {
      ...facts,
      jobs: [
        { name: 'deploy', result: 'failure' },
        { name: 'rollback', result: 'success' },
      ],
    });
    expect(ledger).toMatchObject({
      verdict: 'NO-GO',
      rolledBack: true,
      releases: { previous: OLD, new: NEW, current: OLD },
    });
    expect(ledger.stages.map((stage) => [stage.name, stage.ok])).toEqual([
      ['verify-bundle-sha', true],
      ['pre-switch-gates', true],
      ['release-switch', true],
      ['health-retry', false],
      ['rollback', true],
      ['rollback-health-retry', true],
    ]);
    expect(ledger.reason).toBe(`health-retry failed, job deploy failure; rolled back to ${OLD}`);
  });

  it('NO-GO when a gate failed: nothing was switched', () => {
    const failedGates: ReportFile = {
      name: 'pre-switch-gates',
      document: {
        action: 'pre-switch-gates',
        failed: 1,
        results: [{ name: 'file .env', status: 'fail', detail: 'missing', durationMs: 1 }],
      },
    };
    const ledger = buildLedger([verify, failedGates], facts);
    expect(ledger).toMatchObject({ verdict: 'NO-GO', rolledBack: false, releases: { new: NEW, current: null } });
    expect(ledger.reason).toBe('pre-switch-gates failed; nothing was switched');
  });

  it('an egress-sentinel report with a violation makes it NO-GO; a clean one passes as one row', () => {
    const egress = (violations: unknown[]): ReportFile => ({
      name: 'egress-violations',
      document: { version: 1, method: 'conntrack', allowed: [], violations, tampered: false },
    });
    expect(buildLedger([verify, switched, healthy, egress([])], facts).verdict).toBe('GO');
    const dirty = buildLedger([verify, switched, healthy, egress([{ address: '203.0.113.9', port: 443 }])], facts);
    expect(dirty.verdict).toBe('NO-GO');
    expect(dirty.stages.at(-1)).toMatchObject({
      action: 'egress-sentinel',
      ok: false,
      results: [{ detail: '1 destination(s) outside the allow-list' }],
    });
  });

  it('a job that failed or was cancelled makes it NO-GO even when every report passed', () => {
    expect(
      buildLedger([verify, switched, healthy], { ...facts, jobs: [{ name: 'smoke', result: 'failure' }] }).reason,
    ).toBe('job smoke failure');
    expect(
      buildLedger([verify, switched, healthy], { ...facts, jobs: [{ name: 'smoke', result: 'skipped' }] }).verdict,
    ).toBe('GO');
  });

  it('the summary starts with the GO/NO-GO line, then the facts, then every check with its time; untrusted text stays text', () => {
    const hostile: ReportFile = {
      name: 'health-retry',
      document: {
        action: 'health-retry',
        healthy: false,
        results: [{ name: 'GET /x', status: 'fail', detail: '<img src=x> **bold** | cell', durationMs: 7 }],
      },
    };
    const markdown = renderLedger(
      buildLedger([verify, switched, hostile, rollback], { ...facts, approver: 'octocat' }),
    );
    const lines = markdown.split('\n');
    expect(lines[0]).toMatch(/^## ❌ NO-GO: health-retry failed; rolled back to 20251101\\_090000-1f2e3d4c$/);
    expect(markdown).toContain('| Approver | octocat |');
    expect(markdown).toContain(`| Bundle SHA-256 | \`${SHA256}\` |`);
    expect(markdown).toContain('| Rolled back | yes |');
    expect(markdown).toContain('| Ended | 2025-11-02T15:50:00.000Z (60.0 s) |');
    expect(markdown).toContain(
      '| health-retry | GET /x | ❌ fail | &lt;img src=x&gt; \\*\\*bold\\*\\* \\| cell | 7 ms |',
    );
    expect(markdown).not.toContain('<img');
  });

  it('reads the reports named and every JSON file under a directory; a file that is not a report names the input', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ledger-'));
    try {
      await mkdir(join(dir, 'deploy-reports-1'), { recursive: true });
      await writeFile(join(dir, 'deploy-reports-1', 'health-retry.json'), JSON.stringify(healthy.document));
      await writeFile(join(dir, 'release-switch-report.json'), JSON.stringify(switched.document));
      await writeFile(join(dir, 'notes.txt'), 'not a report');
      const reports = await readReports([], dir);
      expect(reports.map((report) => report.name).sort()).toEqual(['health-retry', 'release-switch']);
      expect(await readReports([], join(dir, 'missing'))).toEqual([]);
      await writeFile(join(dir, 'broken.json'), '{');
      await expect(readReports([join(dir, 'broken.json')], undefined)).rejects.toThrow(
        /reports.*broken\.json is not JSON/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
