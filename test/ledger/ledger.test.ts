import { describe, expect, it } from '@jest/globals';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLedger, type ReportFile } from '#core/ledger/build.js';
import { renderLedger, verdictLine } from '#core/ledger/markdown.js';
import { readReports } from '#core/ledger/read.js';
import { LEDGER_FORMAT, ledgerSchema } from '#core/ledger/schema.js';
import { MemoryLogger } from '#core/logger.js';
import type { CheckResult } from '#core/report/result.js';
import { reportFile, type Written } from '../support/report-documents.js';

// Reports as the envelope writes them for what each action returns.
const NEW = '20251102_154900-f0959baf';
const OLD = '20251101_090000-1f2e3d4c';
const SHA = 'f0959baf'.padEnd(40, '0');
const SHA256 = 'a'.repeat(64);
const pass = (name: string, ms = 5): CheckResult => ({ name, status: 'pass', detail: 'ok', durationMs: ms });
const fail = (name: string, detail: string): CheckResult => ({ name, status: 'fail', detail, durationMs: 3 });
const at = (minute: number) => `2025-11-02T15:${String(minute).padStart(2, '0')}:00.000Z`;

const report = (name: string, written: Written, file?: string) => reportFile(name, written, file);
const verify = report('verify-bundle-sha', {
  action: 'verify-bundle-sha',
  stage: 'verify',
  startedAt: at(50),
  results: [pass('Checksum'), pass('Unpack')],
  report: { release: `/srv/app/releases/${NEW}`, bundleSha256: SHA256, details: { files: 12 } },
});
const gates = report('pre-switch-gates', {
  action: 'pre-switch-gates',
  stage: 'gates',
  startedAt: at(51),
  results: [pass('file server.mjs'), pass('node --check')],
  report: { details: { layer: 'pre-switch' } },
});
const switched = report('release-switch', {
  action: 'release-switch',
  stage: 'switch',
  startedAt: at(52),
  results: [pass('Lock'), pass('Switch')],
  report: { release: NEW, previousRelease: `releases/${OLD}`, currentRelease: `releases/${NEW}` },
});
const healthy = report('health-retry', {
  action: 'health-retry',
  stage: 'health',
  startedAt: at(53),
  results: [pass('GET /health', 12)],
});
const unhealthy = report('health-retry', {
  action: 'health-retry',
  stage: 'health',
  startedAt: at(53),
  results: [fail('GET /health', 'HTTP 500 after 3 attempts')],
});
const rollback = report('rollback', {
  action: 'release-switch',
  stage: 'rollback',
  startedAt: at(55),
  results: [pass('Rollback')],
  report: { release: NEW, previousRelease: NEW, currentRelease: OLD, rolledBack: true },
});
const rollbackHealth = report('rollback-health-retry', {
  action: 'health-retry',
  stage: 'health',
  startedAt: at(56),
  results: [pass('GET /health')],
});
const facts = {
  environment: 'stage',
  sha: SHA,
  endedAt: '2025-11-02T15:50:00.000Z',
  startedAt: '2025-11-02T15:49:00.000Z',
  run: { url: 'https://github.com/o/r/actions/runs/42', id: '42' },
};

describe('deployment ledger', () => {
  it('GO: the new release is live and every required stage passed; facts taken from the reports', () => {
    const ledger = buildLedger([healthy, switched, gates, verify], facts); // any order in, the deploy's order out
    expect(ledgerSchema().parse(ledger)).toEqual(ledger);
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
    expect(ledger.stages.map((stage) => [stage.name, stage.stage])).toEqual([
      ['verify-bundle-sha', 'verify'],
      ['pre-switch-gates', 'gates'],
      ['release-switch', 'switch'],
      ['health-retry', 'health'],
    ]);
    expect(ledger.stages[1]).toMatchObject({
      ok: true,
      results: [{ name: 'file server.mjs', status: 'pass' }, { name: 'node --check' }],
    });
    expect(verdictLine(ledger)).toBe(`✅ GO: ${NEW} is live on stage; 7 gates and checks passed`);
  });

  it('NO-GO after a failed health check: rolled back, the previous release current, the failure named', () => {
    const ledger = buildLedger([rollbackHealth, verify, gates, switched, unhealthy, rollback], {
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
    // Ordered by stage, and what ran after the rollback after it.
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
    const failedGates = report('pre-switch-gates', {
      action: 'pre-switch-gates',
      stage: 'gates',
      results: [fail('file .env', 'missing')],
      failure: 'Pre-switch gates: FAILED',
    });
    const ledger = buildLedger([verify, failedGates], { ...facts, require: ['verify', 'gates'] });
    expect(ledger).toMatchObject({ verdict: 'NO-GO', rolledBack: false, releases: { new: NEW, current: null } });
    expect(ledger.reason).toBe('pre-switch-gates failed; nothing was switched');
  });

  it('NO-GO "evidence does not match" when the reports are about another release, commit or bundle, naming the reports', () => {
    const otherRelease = '20251102_160000-dc4d5417';
    const otherVerify = report(
      'verify-bundle-sha',
      { ...written(verify), report: { release: `releases/${otherRelease}`, bundleSha256: SHA256 } },
      'deploy-reports-1/verify-bundle-sha.json',
    );
    const mixed = buildLedger([otherVerify, gates, switched, healthy], { ...facts, sha: undefined });
    expect(mixed.verdict).toBe('NO-GO');
    expect(mixed.reason).toMatch(
      new RegExp(
        `^evidence does not match: release ${otherRelease} in deploy-reports-1/verify-bundle-sha\\.json but ${NEW} in release-switch\\.json`,
      ),
    );
    // The release names' short SHAs are claims about the commit too; the sha input is one.
    expect(
      buildLedger([verify, gates, switched, healthy], { ...facts, sha: 'dc4d5417'.padEnd(40, '1') }).reason,
    ).toMatch(/^evidence does not match: commit dc4d5417\w+ in the sha input but f0959baf in verify-bundle-sha\.json/);
    const packed = report('pack-bundle', {
      action: 'pack-bundle',
      stage: 'pack',
      results: [pass('Pack')],
      report: { sha: SHA, bundleSha256: 'b'.repeat(64) },
    });
    expect(buildLedger([packed, verify, gates, switched, healthy], facts).reason).toBe(
      `evidence does not match: bundle SHA-256 ${'b'.repeat(64)} in pack-bundle.json but ${SHA256} in verify-bundle-sha.json`,
    );
  });

  it('commits agree only when each is a short SHA of the longest: two different full SHAs are no evidence', () => {
    const claim = (file: ReportFile, sha: string) => ({ ...file, document: { ...file.document, sha } });
    const ledger = buildLedger(
      [
        claim(verify, 'f0959baf'),
        claim(gates, `f0959baf${'1'.repeat(32)}`),
        claim(switched, `f0959baf${'2'.repeat(32)}`),
        healthy,
      ],
      { ...facts, sha: undefined },
    );
    expect(ledger.verdict).toBe('NO-GO');
    expect(ledger.reason).toMatch(
      /^evidence does not match: commit f0959baf1{32} in pre-switch-gates\.json but f0959baf2{32} in release-switch\.json/,
    );
    // A release name is a claim about the commit only as pack-bundle makes it: `app-20251102` is no short SHA.
    const named = {
      ...switched,
      document: { ...switched.document, release: 'app-20251102', currentRelease: 'app-20251102' },
    };
    const plain = buildLedger([named, gates, healthy], { ...facts, require: ['gates', 'switch', 'health'] });
    expect(plain.verdict).toBe('GO');
  });

  it("a report of another repository, or of another run (but the build run's pack), is NO-GO, naming it", () => {
    const from = (file: ReportFile, run: Partial<ReportFile['document']['run']>) => ({
      ...file,
      document: { ...file.document, run: { ...file.document.run, ...run } },
    });
    const here = { ...facts, run: { ...facts.run, repository: 'o/r' } };
    const ours = [verify, gates, switched].map((file) => from(file, { repository: 'o/r', id: '42' }));
    expect(buildLedger([...ours, from(healthy, { repository: 'o/r', id: '42' })], here).verdict).toBe('GO');
    expect(buildLedger([...ours, from(healthy, { repository: 'someone/else', id: '1' })], here).reason).toBe(
      'evidence does not match: health-retry.json is from someone/else, not o/r',
    );
    expect(buildLedger([...ours, from(healthy, { repository: 'o/r', id: '41' })], here).reason).toBe(
      'evidence does not match: health-retry.json is from run 41, not 42',
    );
    const packed = from(
      report('pack-bundle', { action: 'pack-bundle', stage: 'pack', results: [pass('Pack')], report: { sha: SHA } }),
      { repository: 'o/r', id: '40' },
    );
    expect(buildLedger([packed, ...ours, from(healthy, { repository: 'o/r', id: '42' })], here).verdict).toBe('GO');
  });

  it('a report that says ok but lists a failed result counts as failed', () => {
    const claimed = { ...gates, document: { ...gates.document, results: [fail('file .env', 'missing')], ok: true } };
    const ledger = buildLedger([verify, claimed, switched, healthy], facts);
    expect(ledger.verdict).toBe('NO-GO');
    expect(ledger.reason).toBe(`pre-switch-gates failed`);
  });

  it('GO needs a report of every required stage: no gates report is NO-GO; require names the stages', () => {
    const ledger = buildLedger([verify, switched, healthy], facts);
    expect(ledger.verdict).toBe('NO-GO');
    expect(ledger.reason).toBe('no report of stage gates');
    expect(buildLedger([verify, switched, healthy], { ...facts, require: ['verify', 'switch'] }).verdict).toBe('GO');
    expect(buildLedger([gates], { ...facts, require: [] }).reason).toBe(
      'no report names the release; nothing was switched',
    );
  });

  it('across re-run attempts the newest report of each step counts, whatever order the artifacts came in', () => {
    const step = (written: Written, attempt: number, name: string) => {
      const file = report(name, written, `deploy-reports-${attempt}/${name}.json`);
      file.document.run = { repository: 'o/r', id: '42', attempt, job: 'deploy', step: name };
      return file;
    };
    const first = step(written(unhealthy), 1, 'health-retry');
    const second = step({ ...written(healthy), startedAt: at(58) }, 2, 'health-retry');
    const others = [verify, gates, switched];
    for (const order of [
      [first, second],
      [second, first],
    ]) {
      const ledger = buildLedger([...others, ...order], facts);
      expect(ledger.verdict).toBe('GO');
      expect(ledger.stages.filter((stage) => stage.stage === 'health')).toEqual([
        expect.objectContaining({ ok: true, attempt: 2 }),
      ]);
    }
    // Another step of the same job (a second health check) is not replaced.
    const smoke = step(written(unhealthy), 1, 'smoke');
    expect(buildLedger([...others, first, second, smoke], facts).reason).toBe('smoke failed');
  });

  it('an egress report with violations makes it NO-GO; a ledger report is not evidence', () => {
    const egress = (results: CheckResult[]) =>
      report('egress-violations', { action: 'egress-sentinel', stage: 'egress', results });
    expect(buildLedger([verify, gates, switched, healthy, egress([pass('Monitor')])], facts).verdict).toBe('GO');
    const dirty = buildLedger(
      [verify, gates, switched, healthy, egress([fail('203.0.113.9:443', 'not allowed')])],
      facts,
    );
    expect(dirty.verdict).toBe('NO-GO');
    expect(dirty.stages.at(-1)).toMatchObject({ action: 'egress-sentinel', stage: 'egress', ok: false });
    const earlierLedger = report('deployment-ledger', {
      action: 'deployment-ledger',
      stage: 'ledger',
      results: [fail('health-retry', '0/1 passed')],
    });
    expect(buildLedger([verify, gates, switched, healthy, earlierLedger], facts).verdict).toBe('GO');
  });

  it('a job that failed or was cancelled makes it NO-GO even when every report passed', () => {
    const all = [verify, gates, switched, healthy];
    expect(buildLedger(all, { ...facts, jobs: [{ name: 'smoke', result: 'failure' }] }).reason).toBe(
      'job smoke failure',
    );
    expect(buildLedger(all, { ...facts, jobs: [{ name: 'smoke', result: 'skipped' }] }).verdict).toBe('GO');
  });

  it('the summary starts with the GO/NO-GO line, then the facts, then every check with its time', () => {
    const markdown = renderLedger(
      buildLedger([verify, gates, switched, unhealthy, rollback], { ...facts, approver: 'octocat' }),
    );
    const lines = markdown.split('\n');
    expect(lines[0]).toMatch(/^## ❌ NO-GO: health-retry failed; rolled back to 20251101\\_090000-1f2e3d4c$/);
    expect(markdown).toContain('| Approver | octocat |');
    expect(markdown).toContain(`| Bundle SHA-256 | \`${SHA256}\` |`);
    expect(markdown).toContain('| Rolled back | yes |');
    expect(markdown).toContain('| Ended | 2025-11-02T15:50:00.000Z (60.0 s) |');
    expect(markdown).toContain('| Run | [42](https://github.com/o/r/actions/runs/42) |');
  });

  it.each([
    ['a table cell break', 'a | b', 'a \\| b', /[^\\]\|\s*b/],
    ['HTML', '<img src=x onerror=alert(1)>', '&lt;img src=x onerror=alert(1)&gt;', /<img/],
    ['a link', '[click](https://evil.example)', '\\[click\\](https:&#8203;//evil.example)', /[^\\]\]\(http/],
    ['an image', '![x](https://evil.example/x.png)', '\\!\\[x\\](https:&#8203;//', /!\[/],
    ['a bare URL', 'see https://evil.example/login', 'see https:&#8203;//evil.example/login', /https:\/\//],
    ['www', 'go to www.evil.example', 'go to www&#8203;.evil.example', /www\./],
    ['an @mention', 'ping @octocat and @org/team', 'ping @&#8203;octocat and @&#8203;org/team', /@\w/],
    ['an e-mail address', 'mail ops@evil.example', 'mail ops@&#8203;evil.example', /@\w/],
  ])('report text with %s renders as text in every cell', (_what, hostile, escaped, markup) => {
    const evil = report(hostile, {
      action: hostile,
      stage: 'health',
      results: [{ name: hostile, status: 'fail', detail: hostile, durationMs: 7 }],
    });
    const markdown = renderLedger(
      buildLedger([verify, gates, switched, evil], { ...facts, environment: hostile, approver: hostile }),
    );
    const rows = markdown.split('\n').filter((line) => line.includes(escaped.slice(0, 8)));
    // The stage name, the check's name and detail, the verdict, the environment and the approver.
    expect(rows.length).toBeGreaterThanOrEqual(4);
    expect(markdown.split(escaped).length - 1).toBeGreaterThanOrEqual(5);
    for (const row of rows) expect(row).not.toMatch(markup);
  });

  it('a run URL that is not http(s), or that tries to break out of the link, is text or encoded', () => {
    const ledger = buildLedger([verify], { ...facts, run: { id: '42', url: 'javascript:alert(1)' }, require: [] });
    expect(renderLedger(ledger)).toContain('| Run | javascript:alert(1) |');
    const sneaky = buildLedger([verify], {
      ...facts,
      run: { id: '42', url: 'https://github.com/o/r/actions/runs/42) ![x](https://evil.example/x.png' },
      require: [],
    });
    const row = renderLedger(sneaky)
      .split('\n')
      .find((line) => line.startsWith('| Run |'))!;
    expect(row).toMatch(
      /^\| Run \| \[42\]\(https:\/\/github\.com\/o\/r\/actions\/runs\/42%29%20!%5Bx%5D%28https:\S+\) \|$/,
    );
  });
});

describe('reading reports', () => {
  it('reads every report document under a directory; other JSON is skipped with a warning; a named non-report is an input error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ledger-'));
    try {
      await mkdir(join(dir, 'deploy-reports-1'), { recursive: true });
      await writeFile(join(dir, 'deploy-reports-1', 'health-retry.json'), JSON.stringify(healthy.document));
      await writeFile(join(dir, 'release-switch-report.json'), JSON.stringify(switched.document));
      await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0' }));
      // An egress report of the earlier, kebab-case format.
      await writeFile(
        join(dir, 'egress-violations.json'),
        JSON.stringify({ version: 1, violations: [], tampered: false }),
      );
      await writeFile(join(dir, 'broken.json'), '{');
      await writeFile(join(dir, 'notes.txt'), 'not a report');
      const logger = new MemoryLogger();
      const reports = await readReports([], dir, logger);
      expect(reports.map((r) => [r.name, r.file])).toEqual([
        ['health-retry', 'deploy-reports-1/health-retry.json'],
        ['release-switch', 'release-switch-report.json'],
      ]);
      expect(logger.lines.filter((line) => line.level === 'warning').map((line) => line.message)).toEqual([
        'Skipped broken.json: not JSON',
        expect.stringMatching(/^Skipped egress-violations\.json: not a valid report document \(action: /),
        'Skipped package.json: not a deploy-gates report document version 1',
      ]);
      await expect(readReports([join(dir, 'package.json')], undefined, logger)).rejects.toThrow(
        /package\.json is not a deploy-gates report document version 1/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('skips, with a warning, what cannot be a report: a control character in a name, a link, an oversized file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ledger-'));
    try {
      const broken = { ...switched.document, release: 'evil\nrelease', currentRelease: 'evil\nrelease' };
      await writeFile(join(dir, 'release-switch.json'), JSON.stringify(broken));
      await symlink('/etc/hostname', join(dir, 'linked.json'));
      await writeFile(join(dir, 'coverage.json'), Buffer.alloc((8 << 20) + 1, 32));
      for (const folder of ['a', 'b']) {
        await mkdir(join(dir, folder));
        await writeFile(join(dir, folder, 'health-retry.json'), JSON.stringify(healthy.document));
      }
      const logger = new MemoryLogger();
      const reports = await readReports([], dir, logger);
      // Two reports of one file name are told apart by their paths.
      expect(reports.map((r) => r.name)).toEqual(['a/health-retry', 'b/health-retry']);
      expect(logger.lines.filter((line) => line.level === 'warning').map((line) => line.message)).toEqual([
        'Skipped linked.json: not a regular file (a link is not followed)',
        'Skipped coverage.json: larger than 8 MiB, not a report document',
        'Skipped release-switch.json: not a valid report document (release: has a control character)',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a reports-dir that does not exist is an input error, not "no release was unpacked"', async () => {
    const missing = join(tmpdir(), `no-reports-${process.pid}`);
    await expect(readReports([], missing, new MemoryLogger())).rejects.toThrow(
      new RegExp(`^${missing} does not exist \\(ENOENT\\)`),
    );
  });
});

/** The action's result behind a report file, to write a variant of it. */
function written(file: ReportFile): Written {
  const { action, stage, results, startedAt } = file.document;
  return { action, stage, results, startedAt, failure: file.document.ok ? undefined : 'failed' };
}
