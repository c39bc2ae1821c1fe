import { describe, expect, it } from '@jest/globals';
import { run as healthRetry } from '../../actions/health-retry/src/main.js';
import { checked } from '#core/github/queries.js';
import { urlCredentials } from '#core/redact.js';
import { runSchema } from '#core/github/schemas.js';
import { renderSummary } from '#core/report/markdown.js';
import { isWorkflowCommand, logSafe } from '#core/text.js';
import { FakeRunner } from '../support/fake-runner.js';

/** Text chosen by a server, the GitHub API or a host, on its way to the log, the summary, outputs and the report. */
describe('untrusted text', () => {
  it('never starts a workflow command on a log line', () => {
    expect(logSafe('current → releases/a\n::warning title=x::pwned')).toBe('current → releases/a\n> ::warning title=x::pwned');
    expect(logSafe('a\r::add-mask::x\r\n\t##[set-output name=y]z')).toBe('a\n> ::add-mask::x\n> \t##[set-output name=y]z');
    expect(logSafe('a :: b ##[c]')).toBe('a :: b ##[c]');
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
    expect(checked(runSchema, run, 'a run').created_at).toBe('2026-11-23T08:00:00Z');
    expect(() => checked(runSchema, { ...run, created_at: '2026-11-23T08:00:00Z\n::warning::x' }, 'a run')).toThrow(/created_at/);
    expect(() => checked(runSchema, { ...run, html_url: 'https://github.com/x\n::warning::x' }, 'a run')).toThrow(/html_url/);
  });

  it('shows server text in the job summary as text, never as markup', () => {
    const body = '<h1>Down</h1> **x** [link](https://evil.example) ![i](https://evil.example/i.png) a|b `c` ~~d~~ $e$ &amp; _f_';
    const markdown = renderSummary({
      title: 'Health checks',
      results: [{ name: '<b>name</b>', status: 'fail', detail: `body is not JSON: ${body}\nnext line`, durationMs: 1 }],
      facts: [['Run', '[run](https://evil.example) <img src=x>']],
    });
    const row = markdown.split('\n').find((line) => line.startsWith('| &lt;b&gt;'))!;
    expect(row).toBe(
      '| &lt;b&gt;name&lt;/b&gt; | ❌ fail | body is not JSON: &lt;h1&gt;Down&lt;/h1&gt; \\*\\*x\\*\\* \\[link\\](https://evil.example) \\!\\[i\\](https://evil.example/i.png) a\\|b \\`c\\` \\~\\~d\\~\\~ \\$e\\$ &amp;amp; \\_f\\_ next line | 1 ms |',
    );
    expect(markdown).toContain('| Run | \\[run\\](https://evil.example) &lt;img src=x&gt; |');
    expect(markdown).not.toMatch(/<(h1|b|img)/);
  });

  it('finds the credentials of every URL in a text, parsable or not', () => {
    expect(urlCredentials('http://admin:PassW0rd@host:99999/x')).toEqual(['admin:PassW0rd', 'admin', 'PassW0rd']);
    expect(urlCredentials('https://ghp_tokenAsUser@example.com/a\nhttps://plain.example.com/b?u=x@y')).toEqual(['ghp_tokenAsUser']);
    expect(urlCredentials('https://u:p%40ss@h/ https://u2:p@ss@h2')).toEqual(['u:p%40ss', 'u:p@ss', 'u', 'p%40ss', 'p@ss', 'u2:p@ss', 'u2']);
  });

  it('health-retry masks URL credentials before its inputs are parsed: an input error never shows them', async () => {
    const runner = new FakeRunner({ urls: 'https://ok.example.com/health\nhttp://admin:PassW0rd@host:99999/x', 'slo-url': 'https://tk-user-7f3a@bad host/' });
    await healthRetry(runner);
    expect(runner.failed).toMatch(/^Invalid inputs:/);
    expect(runner.failed).toContain('"http://***@host:99999/x" is not a URL');
    expect(runner.failed).toContain('"https://***@bad host/" is not a URL');
    expect(runner.secrets).toEqual(expect.arrayContaining(['admin', 'PassW0rd', 'tk-user-7f3a']));
    expect(runner.log.join('\n')).not.toMatch(/PassW0rd|tk-user|admin/);
  });
});
