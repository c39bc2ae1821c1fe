import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { json, startServer, type TestServer } from '../support/http-server.js';
import { node24, repoRoot } from '../support/paths.js';

/**
 * GitHub's local runner for JavaScript actions, @github/local-action, runs an action's source with @actions/core
 * replaced by its stubs, then lists the outputs the action set. This runs health-retry through it, the way the
 * README's "Debug with @github/local-action" section says, against a loopback server.
 */
const run = promisify(execFile);

let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startServer((_req, res) => json(res, 200, { status: 'ok' }));
  dir = mkdtempSync(join(tmpdir(), 'local-action-'));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function localAction(entrypoint: string, env: Record<string, string>) {
  const dotenv = join(dir, `${entrypoint.replace(/\W/g, '-')}.env`);
  writeFileSync(
    dotenv,
    Object.entries(env)
      .map(([name, value]) => `${name}=${value}`)
      .join('\n'),
  );
  const { stdout } = await run(
    join(repoRoot, 'node_modules/.bin/local-action'),
    ['actions/health-retry', entrypoint, dotenv],
    {
      cwd: repoRoot,
      // local-action starts tsx with the first `node` on PATH: the actions' Node 24.
      env: { ...process.env, PATH: `${dirname(node24)}:${process.env.PATH}`, NO_COLOR: '1' },
      timeout: 120_000,
    },
  );
  return stdout;
}

/** A value from the table local-action prints under "Action Outputs" (the metadata table above it lists descriptions). */
const outputRow = (stdout: string, name: string) =>
  new RegExp(`│ '${name}'\\s*│ '([^']*)'`).exec(stdout.slice(stdout.indexOf('Action Outputs')))?.[1];

describe('@github/local-action', () => {
  it.each(['src/main.ts', 'src/index.ts'])('runs %s once and lists its outputs and summary', async (entrypoint) => {
    const summary = join(dir, `${entrypoint.replace(/\W/g, '-')}-summary.md`);
    writeFileSync(summary, '');
    const stdout = await localAction(entrypoint, {
      INPUT_URLS: `${server.url}/health`,
      'INPUT_EXPECT-JSON': 'status=ok',
      INPUT_ATTEMPTS: '2',
      'INPUT_BEARER-TOKEN': 'Tk-local-action-SECRET',
      GITHUB_STEP_SUMMARY: summary,
      RUNNER_TEMP: dir,
    });
    expect(stdout).not.toContain('No outputs were set!');
    expect(stdout).not.toContain('does not export a run() function');
    expect(outputRow(stdout, 'healthy')).toBe('true');
    expect(outputRow(stdout, 'attempts')).toBe('1');
    expect(outputRow(stdout, 'report')).toBe(join(dir, 'deploy-gates/health-retry-report.json'));
    expect(stdout.match(/Attempt 1\/2/g)).toHaveLength(1);
    expect(readFileSync(summary, 'utf8')).toContain('Health checks: 1/1 PASSED');
    expect(stdout).not.toContain('Tk-local-action-SECRET');
  });
});
