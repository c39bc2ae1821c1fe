import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { json, startServer, type TestServer } from '../support/http-server.js';
import { node24, repoRoot } from '../support/paths.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';

const servers: TestServer[] = [];
const runs: BundleRun[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  runs.splice(0).forEach(cleanup);
});
async function server(...args: Parameters<typeof startServer>) {
  const started = await startServer(...args);
  servers.push(started);
  return started;
}
async function run(inputs: Record<string, string>, env: Record<string, string> = {}) {
  const result = await runBundle('health-retry', inputs, env);
  runs.push(result);
  return result;
}

const TOKEN = 'hc-token-6f1e0c2d9a8b7e6f5a4b';

describe('dist/health-retry run the way the runner runs it', () => {
  it('works started by hand outside a runner, with no job summary file', async () => {
    const app = await server((_req, res) => json(res, 200, { status: 'ok' }));
    const result = await run({ urls: `${app.url}/health`, 'expect-json': 'status=ok' }, { GITHUB_STEP_SUMMARY: '' });
    expect(result.exitCode).toBe(0);
    expect(result.outputs.healthy).toBe('true');
    expect(result.log).not.toContain('::error');
  });

  it('reports a flapping app healthy with outputs, a JSON report and a summary table', async () => {
    const app = await server((req, res, count) => {
      if (req.url === '/healthcheck.php') return json(res, 200, { ok: true });
      return count <= 3 ? json(res, 503, {}) : json(res, 200, { status: 'ok', version: '1.3.0' });
    });
    const result = await run({
      urls: `${app.url}/health\n${app.url}/api/health-check\n${app.url}/healthcheck.php`,
      'expect-json': 'status=ok\nversion=1.3.0',
      'bearer-token': TOKEN,
      interval: '50ms',
      'expect-status': '2xx',
    });
    expect(result.exitCode).toBe(1); // healthcheck.php has no status field
    expect(result.outputs.healthy).toBe('false');
    const fixed = await run({
      urls: `${app.url}/health\n${app.url}/api/health-check`,
      'expect-json': 'status=ok\nversion=1.3.0',
      'bearer-token': TOKEN,
      interval: '50ms',
    });
    expect(fixed.exitCode).toBe(0);
    expect(fixed.outputs).toEqual({
      healthy: 'true',
      attempts: '1',
      'duration-ms': expect.stringMatching(/^\d+$/),
      report: expect.stringContaining(fixed.runnerTemp),
    });
    const report = JSON.parse(readFileSync(fixed.outputs.report!, 'utf8'));
    expect(report).toMatchObject({
      version: 1,
      action: 'health-retry',
      stage: 'health',
      ok: true,
      details: { healthy: true, attemptsUsed: 1 },
    });
    expect(report.details.endpoints.map((e: { url: string; healthy: boolean }) => [e.url, e.healthy])).toEqual([
      [`${app.url}/health`, true],
      [`${app.url}/api/health-check`, true],
    ]);
    expect(fixed.summary).toContain('### ✅ Health checks: 2/2 PASSED');
    // URLs in the summary are text, not links GitHub would make (a zero-width space after the scheme's `:`).
    expect(fixed.summary).toContain(
      `| ${app.url.replace('://', ':&#8203;//')}/health | ✅ pass | HTTP 200, ok after 1 attempt |`,
    );
  });

  it('fails with an error annotation naming the endpoint and the last reason', async () => {
    const app = await server((_req, res) => json(res, 503, { status: 'down' }));
    const result = await run({ urls: `${app.url}/health`, attempts: '3', interval: '10ms' });
    expect(result.exitCode).toBe(1);
    expect(result.outputs).toEqual(expect.objectContaining({ healthy: 'false', attempts: '3' }));
    expect(result.stdout).toMatch(
      new RegExp(
        `^Attempt 3/3 ${app.url}/health → HTTP 503 in \\d+ ms: expected 200: "\\{\\\\"status\\\\":\\\\"down\\\\"\\}"$`,
        'm',
      ),
    );
    expect(result.stdout).toContain(
      `::error::Unhealthy: 1 of 1 check(s) failed%0A${app.url}/health: unhealthy after 3 attempts of 3: HTTP 503: expected 200: "{\\"status\\":\\"down\\"}"`,
    );
    expect(result.stdout.match(/^::(error|warning)/gm)).toHaveLength(1);
    expect(app.requests).toHaveLength(3);
  });

  it('passes with healthy=false and a warning when fail-on-unhealthy is false', async () => {
    const app = await server((_req, res) => json(res, 500, {}));
    const result = await run({ urls: `${app.url}/health`, attempts: '1', 'fail-on-unhealthy': 'false' });
    expect(result.exitCode).toBe(0);
    expect(result.outputs.healthy).toBe('false');
    expect(result.stdout).toContain('::warning title=health-retry::');
  });

  it('never lets the token out: not in the log, outputs, summary or report, even when the server echoes it', async () => {
    const other = await server((req, res) => json(res, 200, { seen: req.headers.authorization ?? null }));
    const app = await server((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: `${other.url}/landing` });
        return res.end();
      }
      json(res, 200, { echo: req.headers.authorization, header: req.headers['x-auth-token'] });
    });
    const result = await run({
      urls: `${app.url}/health\n${app.url}/redirect`,
      'bearer-token': TOKEN,
      headers: `X-Auth-Token: hdr-${TOKEN}\nX-Trace: visible`,
      attempts: '2',
      interval: '10ms',
      'expect-body': 'never',
    });
    expect(result.exitCode).toBe(1);
    expect(other.requests[0]!.headers.authorization).toBeUndefined();
    expect(app.requests[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const report = readFileSync(result.outputs.report!, 'utf8');
    // The runner consumes ::add-mask:: lines (they are how the token gets masked); everything else must be clean.
    const log = result.stdout
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n');
    for (const text of [log, result.stderr, result.summary, JSON.stringify(result.outputs), report])
      expect(text).not.toContain(TOKEN);
    expect(log).toContain('body does not match /never/: "{\\"echo\\":\\"Bearer ***\\",\\"header\\":\\"***\\"}"');
    expect(report).toContain('Bearer ***');
    expect(result.stdout).toContain(`::add-mask::${TOKEN}`); // registered with the runner before anything else
    expect(result.stdout.indexOf(`::add-mask::${TOKEN}`)).toBe(0);
  });

  it('masks a secret as a PHP app echoes it (JSON with \\/ and \\uXXXX) and the Basic credential of URL userinfo', async () => {
    const token = 'Zm9v/YmFy+c2VjcmV0-é-LXRva2Vu';
    const app = await server((req, res) => {
      // PHP's json_encode by default: `/` as `\/`, non-ASCII as \uXXXX; the 401 echoes the Authorization header.
      const php = JSON.stringify({ received: req.headers.authorization })
        .replace(/\//g, '\\/')
        .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(php);
    });
    const bearer = await run({ urls: `${app.url}/health`, 'bearer-token': token, attempts: '1' });
    const basicUrl = app.url.replace('http://', 'http://admin:S3cretPass-42@');
    const basic = await run({ urls: `${basicUrl}/health`, attempts: '1' });
    const credential = Buffer.from('admin:S3cretPass-42').toString('base64');
    expect(app.requests[1]!.headers.authorization).toBe(`Basic ${credential}`);
    for (const [result, secrets] of [
      [bearer, ['Zm9v\\/YmFy+c2VjcmV0', 'c2VjcmV0-\\u00e9-LXRva2Vu']],
      [basic, [credential, 'S3cretPass-42']],
    ] as const) {
      expect(result.exitCode).toBe(1);
      const log = result.stdout
        .split('\n')
        .filter((line) => !line.startsWith('::add-mask::'))
        .join('\n');
      expect(log).toContain('HTTP 401');
      const report = readFileSync(result.outputs.report!, 'utf8');
      for (const text of [log, result.summary, report])
        for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });

  it('keeps untrusted text inert: a body cannot start a workflow command, render markup or show part of the token', async () => {
    const app = await server((req, res) =>
      res.end(
        `<h1>Big</h1> ##[set-output name=injected;]v [link](https://evil.example) ${'x'.repeat(30)} ${req.headers.authorization}\n::warning title=x::pwned ##[stop-commands]t`,
      ),
    );
    const result = await run({
      urls: `${app.url}/health`,
      'bearer-token': TOKEN,
      attempts: '1',
      'expect-body': 'never',
    });
    expect(result.exitCode).toBe(1);
    const lines = result.stdout.split(/\r\n|\r|\n/);
    expect(lines.filter((line) => /^\s*::/.test(line) && !/^::(add-mask|group|endgroup|error)::/.test(line))).toEqual(
      [],
    );
    // The runner reads `##[name]` anywhere in a line (its older syntax): none may reach the log.
    expect(lines.filter((line) => line.includes('##['))).toEqual([]);
    expect(lines.filter((line) => line.startsWith('::error'))).toHaveLength(1);
    expect(result.summary).not.toMatch(/<h1>|[^\\]\]\(https/);
    expect(result.summary).toContain(
      '&lt;h1&gt;Big&lt;/h1&gt; ##\\[set-output name=injected;\\]v \\[link\\](https:&#8203;//evil.example)',
    );
    const report = readFileSync(result.outputs.report!, 'utf8');
    const log = lines.filter((line) => !line.startsWith('::add-mask::')).join('\n');
    for (const text of [log, result.summary, report]) expect(text).not.toContain(TOKEN.slice(0, 8));
  });

  it('masks URL credentials before a bad URL is reported, and goes on without a writable job summary', async () => {
    const bad = await run({ urls: 'http://admin-user:PassW0rd@host:99999/x' });
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toContain('::error::Input "urls": "http://***@host:99999/x" is not a URL');
    expect(
      bad.stdout
        .split('\n')
        .filter((line) => !line.startsWith('::add-mask::'))
        .join('\n'),
    ).not.toMatch(/PassW0rd|admin-user/);

    const app = await server((_req, res) => json(res, 200, { status: 'ok' }));
    const noSummary = await run(
      { urls: `${app.url}/health` },
      { GITHUB_STEP_SUMMARY: '/nonexistent-deploy-gates/summary.md' },
    );
    expect(noSummary.exitCode).toBe(0);
    expect(noSummary.outputs.healthy).toBe('true');
    expect(noSummary.stdout).toContain(
      '::warning title=job summary::No job summary was written (GITHUB_STEP_SUMMARY=/nonexistent-deploy-gates/summary.md)',
    );
  });

  it.each([
    [{ urls: 'not a url' }, 'Input "urls": "not a url" is not a URL'],
    [{ urls: 'URL', attempts: '0' }, 'Input "attempts": "0" is not a whole number from 1 to 1000'],
    [
      { urls: 'URL', interval: 'abc' },
      'Input "interval": "abc" is not a duration; use a number with a unit: 500ms, 5s, 2m or 1h',
    ],
    [{ urls: 'URL', 'expect-json': 'status' }, 'Input "expect-json": "status" is not a path=value assertion'],
    [{ urls: 'URL', 'expect-status': '2xx;3xx' }, 'Input "expect-status": "2xx;3xx" is not a status list'],
    [{ urls: 'URL', backoff: 'linear' }, 'Input "backoff": "linear" is not one of fixed, exponential'],
    [{ urls: '' }, 'Input "urls": needs at least one line'],
    [
      { urls: 'URL', attempts: '2', 'consecutive-successes': '3' },
      'Input "consecutive-successes": is 3, more passes in a row than the 2 attempts allow',
    ],
  ])('rejects bad input %j before any request', async (inputs, message) => {
    const app = await server((_req, res) => json(res, 200, {}));
    const result = await run(
      Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.replace('URL', `${app.url}/health`)])),
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(`::error::${message}`);
    expect(app.requests).toHaveLength(0);
    expect(result.outputs).toEqual({});
  });
});

describe('deploy-gates CLI', () => {
  // Each run makes a fresh directory for its reports under RUNNER_TEMP: here, one removed after these tests.
  const runnerTemp = mkdtempSync(join(tmpdir(), 'cli-runner-temp-'));
  afterAll(() => rmSync(runnerTemp, { recursive: true, force: true }));
  const cli = (...args: string[]) =>
    promisify(execFile)(node24, [join(repoRoot, 'dist/cli/index.js'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, RUNNER_TEMP: runnerTemp },
    }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('runs health-retry like the runner and prints outputs and the summary', async () => {
    const app = await server((_req, res) => json(res, 200, { status: 'ok' }));
    const result = await cli(
      'health-retry',
      '--urls',
      `${app.url}/a`,
      '--urls',
      `${app.url}/b`,
      '--expect-json',
      'status=ok',
      '--bearer-token',
      TOKEN,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Attempt 1/6 ${app.url}/b → HTTP 200`);
    expect(result.stdout).toMatch(/Outputs:\n {2}healthy=true\n {2}attempts=1\n/);
    expect(result.stdout).toContain('Job summary:\n### ✅ Health checks: 2/2 PASSED');
    expect(result.stdout).not.toContain(TOKEN);
    expect(app.requests.map((r) => r.path).sort()).toEqual(['/a', '/b']);
    // Each run has its own RUNNER_TEMP, printed first; the report is in it.
    const runDir = /^Reports go to (\S+) \(RUNNER_TEMP of this run\)$/m.exec(result.stdout)?.[1];
    expect(runDir?.startsWith(`${runnerTemp}/deploy-gates-health-retry-run-`)).toBe(true);
    expect(result.stdout).toContain(`report=${runDir}/`);
  });

  it('shows annotations readably and exits with the action status', async () => {
    const result = await cli('health-retry', '--urls', 'http://127.0.0.1:1/health', '--attempts', '1');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      'Error: Unhealthy: 1 of 1 check(s) failed\nhttp://127.0.0.1:1/health: unhealthy after 1 attempt of 1: connection refused',
    );
    expect(result.stdout).toContain('health-retry failed (exit code 1)');
  });

  it('lists the valid actions for an unknown action, and the valid inputs for an unknown input', async () => {
    const action = await cli('helth-retry');
    expect(action.code).toBe(2);
    expect(action.stderr).toContain('unknown action "helth-retry". Valid actions: ');
    expect(action.stderr).toContain('health-retry');
    const input = await cli('health-retry', '--url', 'http://x');
    expect(input.code).toBe(2);
    expect(input.stderr).toContain('health-retry has no input --url. Valid inputs: --urls, --expect-status');
    expect(input.stderr).toContain('. Did you mean --urls?');
    const swallowed = await cli('health-retry', '--urls', '--attempts', '3');
    expect(swallowed.code).toBe(2);
    expect(swallowed.stderr).toContain('--urls needs a value, but the next argument starts with "--"');
  });
});
