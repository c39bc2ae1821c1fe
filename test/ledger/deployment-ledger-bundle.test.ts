import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseReportDocument } from '#core/report/document.js';
import { reportFile } from '../support/report-documents.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';

const runs: BundleRun[] = [];
const dirs: string[] = [];
afterAll(async () => {
  runs.splice(0).forEach(cleanup);
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dg-ledger-'));
  dirs.push(dir);
  return dir;
}

describe('dist/deployment-ledger/index.js', () => {
  it('refuses a bad input by name and writes no ledger', async () => {
    const dir = await tempDir();
    const run = await runBundle('deployment-ledger', {
      jobs: 'deploy=done',
      sha: 'abc',
      require: 'verify, deploy',
      'ledger-path': join(dir, 'ledger.json'),
    });
    runs.push(run);
    expect(run.exitCode).toBe(1);
    expect(run.log).toMatch(/jobs.*"deploy=done": the result must be one of success, failure, cancelled, skipped/);
    expect(run.log).toMatch(/sha.*"abc" is not a full 40-character commit SHA, e\.g\. \$\{\{ github\.sha \}\}/);
    expect(run.log).toMatch(
      /require.*"deploy" is not a stage a deploy leaves evidence of; use stages of pack, resolve/,
    );
    expect(existsSync(join(dir, 'ledger.json'))).toBe(false);
    const empty = await runBundle('deployment-ledger', { 'ledger-path': join(dir, 'ledger.json') });
    runs.push(empty);
    expect(empty.exitCode).toBe(1);
    expect(empty.log).toContain('Input "reports": is empty, and so is reports-dir');
    // A reports-dir that is not there (a download that put the reports elsewhere) is not "nothing was unpacked".
    const missing = await runBundle('deployment-ledger', {
      'reports-dir': join(dir, 'reports'),
      'ledger-path': join(dir, 'ledger.json'),
    });
    runs.push(missing);
    expect(missing.exitCode).toBe(1);
    expect(missing.log).toContain(`Input "reports-dir": ${join(dir, 'reports')} does not exist (ENOENT)`);
    expect(existsSync(join(dir, 'ledger.json'))).toBe(false);
  });

  it('takes the run URL from the runner, skips what is not a report, and with fail-on-no-go fails the step on NO-GO', async () => {
    const dir = await tempDir();
    const gates = reportFile('pre-switch-gates', {
      action: 'pre-switch-gates',
      stage: 'gates',
      results: [{ name: 'file .env', status: 'fail', detail: 'missing', durationMs: 2 }],
      failure: 'gates failed',
    });
    await writeFile(join(dir, 'pre-switch-gates.json'), JSON.stringify(gates.document));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'app' }));
    const run = await runBundle(
      'deployment-ledger',
      {
        'reports-dir': dir,
        require: 'gates',
        'fail-on-no-go': 'true',
        'ledger-path': join(dir, 'out', 'ledger.json'),
        'report-path': join(dir, 'out', 'ledger-report.json'),
      },
      { GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'octo-org/app', GITHUB_RUN_ID: '4242' },
    );
    runs.push(run);
    expect(run.exitCode).toBe(1);
    expect(run.outputs).toMatchObject({
      go: 'false',
      'rolled-back': 'false',
      ledger: join(dir, 'out', 'ledger.json'),
      report: join(dir, 'out', 'ledger-report.json'),
    });
    expect(run.log).toContain('Skipped package.json: not a deploy-gates report document version 1');
    expect(run.summary.split('\n')[0]).toBe('## ❌ NO-GO: pre-switch-gates failed; nothing was switched');
    expect(run.summary).toContain('| Run | [4242](https://github.com/octo-org/app/actions/runs/4242) |');
    // The ledger itself, and the ledger's own report document (stage `ledger`) with the ledger as its details.
    const ledger = JSON.parse(readFileSync(join(dir, 'out', 'ledger.json'), 'utf8')) as { verdict: string };
    expect(ledger.verdict).toBe('NO-GO');
    const document = JSON.parse(readFileSync(join(dir, 'out', 'ledger-report.json'), 'utf8')) as unknown;
    expect(parseReportDocument(document).success).toBe(true);
    expect(document).toMatchObject({ action: 'deployment-ledger', stage: 'ledger', ok: false, details: ledger });
  });
});
