import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';

const runs: BundleRun[] = [];
const dirs: string[] = [];
afterAll(async () => {
  runs.splice(0).forEach(cleanup);
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('dist/deployment-ledger/index.js', () => {
  it('refuses a bad input by name and writes no ledger', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dg-ledger-'));
    dirs.push(dir);
    const run = await runBundle('deployment-ledger', {
      jobs: 'deploy=done',
      sha: 'abc',
      'ledger-path': join(dir, 'ledger.json'),
    });
    runs.push(run);
    expect(run.exitCode).toBe(1);
    expect(run.log).toMatch(/jobs.*"deploy=done": the result must be one of success, failure, cancelled, skipped/);
    expect(run.log).toMatch(/sha.*must be a full 40-character commit SHA/);
    expect(existsSync(join(dir, 'ledger.json'))).toBe(false);
    const empty = await runBundle('deployment-ledger', { 'ledger-path': join(dir, 'ledger.json') });
    runs.push(empty);
    expect(empty.exitCode).toBe(1);
    expect(empty.log).toContain('Input "reports": is empty, and so is reports-dir');
  });

  it('takes the run URL from the runner, and with fail-on-no-go fails the step on NO-GO (nothing was switched)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dg-ledger-'));
    dirs.push(dir);
    await writeFile(
      join(dir, 'pre-switch-gates.json'),
      JSON.stringify({
        action: 'pre-switch-gates',
        failed: 1,
        results: [{ name: 'file .env', status: 'fail', detail: 'missing', durationMs: 2 }],
      }),
    );
    const run = await runBundle(
      'deployment-ledger',
      { 'reports-dir': dir, 'fail-on-no-go': 'true', 'ledger-path': join(dir, 'out', 'ledger.json') },
      { GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'octo-org/app', GITHUB_RUN_ID: '4242' },
    );
    runs.push(run);
    expect(run.exitCode).toBe(1);
    expect(run.outputs).toMatchObject({ go: 'false', 'rolled-back': 'false', ledger: join(dir, 'out', 'ledger.json') });
    expect(run.summary.split('\n')[0]).toBe('## ❌ NO-GO: pre-switch-gates failed; nothing was switched');
    expect(run.summary).toContain('| Run | [4242](https://github.com/octo-org/app/actions/runs/4242) |');
  });
});
