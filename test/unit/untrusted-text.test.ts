import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run as healthRetry } from '../../actions/health-retry/src/main.js';
import { jsonSyntaxError } from '#core/gates/json-syntax.js';
import { checked } from '#core/github/queries.js';
import { Redactor, urlCredentials } from '#core/redact.js';
import { runSchema } from '#core/github/schemas.js';
import { markdownText, renderSummary } from '#core/report/markdown.js';
import { isWorkflowCommand, logSafe, oneLine } from '#core/text.js';
import { FakeRunner } from '../support/fake-runner.js';
import { startServer, type TestServer } from '../support/http-server.js';

let dir: string;
let server: TestServer | undefined;
const saved = { ...process.env };
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'untrusted-'));
  process.env.RUNNER_TEMP = dir;
  process.env.GITHUB_STEP_SUMMARY = '';
});
afterEach(async () => {
  process.env = { ...saved };
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Text chosen by a server, the GitHub API or a host, on its way to the log, the summary, outputs and the report. */
describe('untrusted text', () => {
  it('never starts a workflow command on a log line', () => {
    expect(logSafe('current → releases/a\n::warning title=x::pwned')).toBe(
      'current → releases/a\n> ::warning title=x::pwned',
    );
    expect(logSafe('a\r::add-mask::x\r\n\t##[set-output name=y]z')).toBe(
      'a\n> ::add-mask::x\n\t## [set-output name=y]z',
    );
    expect(logSafe('a :: b')).toBe('a :: b');
    // The runner finds the older syntax anywhere in a line (`IndexOf("##[")`): a server's text must not carry it.
    expect(logSafe('HTTP 500: x ##[set-output name=injected;]v ##[stop-commands]t')).toBe(
      'HTTP 500: x ## [set-output name=injected;]v ## [stop-commands]t',
    );
    expect(isWorkflowCommand('HTTP 500: x ##[error]fake')).toBe(true);
    expect(logSafe('::x::y').split('\n').some(isWorkflowCommand)).toBe(false);
  });

  it('accepts a GitHub timestamp only as a timestamp: one with a line break is an unexpected answer', () => {
    const run = {
      id: 1,
      run_number: 1,
      head_sha: '62584375aa1b2c3d4e5f60718293a4b5c6d7e8f9',
      head_branch: 'main',
      event: 'push',
      status: 'completed',
      conclusion: 'success',
      html_url: 'https://github.com/octo/app/actions/runs/1',
      created_at: '2026-11-23T08:00:00Z',
    };
    expect(checked(runSchema(), run, 'a run').created_at).toBe('2026-11-23T08:00:00Z');
    expect(() => checked(runSchema(), { ...run, created_at: '2026-11-23T08:00:00Z\n::warning::x' }, 'a run')).toThrow(
      /created_at/,
    );
    expect(() => checked(runSchema(), { ...run, html_url: 'https://github.com/x\n::warning::x' }, 'a run')).toThrow(
      /html_url/,
    );
  });

  it('shows server text in the job summary as text, never as markup', () => {
    const body =
      '<h1>Down</h1> **x** [link](https://evil.example) ![i](https://evil.example/i.png) a|b `c` ~~d~~ $e$ &amp; _f_';
    const markdown = renderSummary({
      title: 'Health checks',
      results: [{ name: '<b>name</b>', status: 'fail', detail: `body is not JSON: ${body}\nnext line`, durationMs: 1 }],
      facts: [['Run', '[run](https://evil.example) <img src=x>']],
    });
    const row = markdown.split('\n').find((line) => line.startsWith('| &lt;b&gt;'))!;
    expect(row).toBe(
      '| &lt;b&gt;name&lt;/b&gt; | ❌ fail | body is not JSON: &lt;h1&gt;Down&lt;/h1&gt; \\*\\*x\\*\\* \\[link\\](https:&#8203;//evil.example) \\!\\[i\\](https:&#8203;//evil.example/i.png) a\\|b \\`c\\` \\~\\~d\\~\\~ \\$e\\$ &amp;amp; \\_f\\_ next line | 1 ms |',
    );
    expect(markdown).toContain('| Run | \\[run\\](https:&#8203;//evil.example) &lt;img src=x&gt; |');
    expect(markdown).not.toMatch(/<(h1|b|img)/);
    // GitHub links `www.` after `_` or a letter too, and any scheme's `://`.
    expect(markdownText('_www.evil.example x_www.e.example ssh2://h')).toBe(
      '\\_www&#8203;.evil.example x\\_www&#8203;.e.example ssh2:&#8203;//h',
    );
  });

  it('finds the credentials of every URL in a text, parsable or not, and the Basic credential made of them', () => {
    const basic = (text: string) => Buffer.from(text).toString('base64');
    expect(urlCredentials('http://admin:PassW0rd@host:99999/x')).toEqual([
      'admin:PassW0rd',
      'admin',
      'PassW0rd',
      basic('admin:PassW0rd'),
    ]);
    expect(urlCredentials('https://ghp_tokenAsUser@example.com/a\nhttps://plain.example.com/b?u=x@y')).toEqual([
      'ghp_tokenAsUser',
      basic('ghp_tokenAsUser:'),
    ]);
    expect(urlCredentials('https://u:p%40ss@h/ https://u2:p@ss@h2')).toEqual([
      'u:p%40ss',
      'u:p@ss',
      'u',
      'p%40ss',
      'p@ss',
      basic('u:p@ss'),
      'u2:p@ss',
      'u2',
      basic('u2:p@ss'),
    ]);
  });

  it('masks a secret in the forms a JSON body echoes it: escaped, with \\/ and \\uXXXX (PHP)', () => {
    const redactor = new Redactor(['tk/é"x-1']);
    expect(redactor.redact('{"a":"tk\\/\\u00e9\\"x-1","b":"tk/é\\"x-1","c":"tk/é"x-1"}')).toBe(
      '{"a":"***","b":"***","c":"***"}',
    );
  });

  it('health-retry masks URL credentials before its inputs are parsed: an input error never shows them', async () => {
    const runner = new FakeRunner({
      urls: 'https://ok.example.com/health\nhttp://admin:PassW0rd@host:99999/x',
      'slo-url': 'https://tk-user-7f3a@bad host/',
    });
    await healthRetry(runner);
    expect(runner.failed).toMatch(/^Invalid inputs:/);
    expect(runner.failed).toContain('"http://***@host:99999/x" is not a URL');
    expect(runner.failed).toContain('"https://***@bad host/" is not a URL');
    expect(runner.secrets).toEqual(expect.arrayContaining(['admin', 'PassW0rd', 'tk-user-7f3a']));
    expect(runner.log.join('\n')).not.toMatch(/PassW0rd|tk-user|admin/);
  });

  it('masks before it cuts, and never cuts inside a mask or ends on the beginning of a secret', () => {
    const redactor = new Redactor(['Tk-SECRET-bcdefghijklmnop']);
    const padded = `${'x'.repeat(80)} Bearer Tk-SECRET-bcdefghijklmnop and more`;
    expect(oneLine(padded, 92, redactor)).toBe(`${'x'.repeat(80)} Bearer ***…`);
    expect(oneLine(padded, 90, redactor)).toBe(`${'x'.repeat(80)} Bearer…`); // not `Bearer *…`
    expect(oneLine(`${'x'.repeat(80)} Tk-SECRET-bc and more`, 92, redactor)).toBe(`${'x'.repeat(80)}…`); // a secret the text had only the start of
    expect(oneLine(padded, 90)).toBe(`${'x'.repeat(80)} Bearer T…`); // no redactor: cut as before
  });

  it('health-retry never shows a fragment of a secret a server echoes past the excerpt (log, annotation, summary, report)', async () => {
    const token = 'Tk-SECRET-b6f1e0c2d9a8b7e6f5a4b3c2';
    server = await startServer((req, res) => res.end(`${'x'.repeat(80)} ${req.headers.authorization}`));
    const summary = join(dir, 'summary.md');
    process.env.GITHUB_STEP_SUMMARY = summary;
    (await import('node:fs')).writeFileSync(summary, '');
    const runner = new FakeRunner({
      urls: `${server.url}/health`,
      'bearer-token': token,
      attempts: '1',
      'expect-body': 'never',
    });
    runner.summary = (await import('@actions/core')).summary;
    await healthRetry(runner);
    expect(runner.failed).toContain('body does not match /never/');
    const report = readFileSync(join(dir, 'deploy-gates/health-retry-report.json'), 'utf8');
    const written = [
      runner.log.filter((line) => !line.startsWith('debug:')).join('\n'),
      runner.failed!,
      readFileSync(summary, 'utf8'),
      report,
    ];
    for (const text of written) {
      expect(text).toMatch(/Bearer (\*\*\*|\\\*\\\*\\\*)/); // the summary escapes the mask's asterisks
      expect(text).not.toContain('Tk-');
    }
  });

  it('finds where a text stops being JSON exactly where JSON.parse does', () => {
    for (const valid of ['{}', ' [1, -2.5e3, "a\\u00e9\\n", true, false, null, {"a": {}}] ', '"x"', '0']) {
      expect(() => JSON.parse(valid)).not.toThrow();
      expect(jsonSyntaxError(valid)).toBeUndefined();
    }
    expect(jsonSyntaxError('APP_KEY=base64:x')).toEqual({ line: 1, column: 1, byteOffset: 0, atEnd: false });
    expect(jsonSyntaxError('{"a": 1,\n "b": [1, 2')).toEqual({ line: 2, column: 12, byteOffset: 20, atEnd: true });
    expect(jsonSyntaxError('{"é": 01}')).toEqual({ line: 1, column: 8, byteOffset: 8, atEnd: false });
    expect(jsonSyntaxError('{"a": "tab\there"}')).toEqual({ line: 1, column: 11, byteOffset: 10, atEnd: false });
    expect(jsonSyntaxError('')).toEqual({ line: 1, column: 1, byteOffset: 0, atEnd: true });
  });
});
