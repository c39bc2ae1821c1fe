import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { defineAction, outputValue } from '#action-kit/index.js';
import { ArgumentError, UserError } from '#core/errors.js';
import { integer, optional, required } from '#action-kit/inputs.js';
import { parseReportDocument } from '#core/report/document.js';
import { FakeRunner } from '../support/fake-runner.js';

/** defineAction, run in-process through a FakeRunner: the one envelope every action relies on. */
let dir: string;
const saved = { ...process.env };
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'envelope-'));
  process.env.RUNNER_TEMP = dir;
  process.env.GITHUB_STEP_SUMMARY = join(dir, 'summary');
});
afterEach(() => {
  process.env = { ...saved };
  rmSync(dir, { recursive: true, force: true });
});

const inputs = {
  name: required('deploy'),
  count: integer({ min: 1 }),
  token: optional(),
  key: optional(),
  'report-path': optional(),
};
const outputs = z.object({ greeting: outputValue(), count: outputValue().optional() });

function action(
  main: Parameters<typeof defineAction<typeof inputs, z.output<typeof outputs>>>[0]['main'],
  extra: { post?: typeof main } = {},
) {
  return defineAction({
    name: 'probe',
    stage: 'health',
    inputs,
    secrets: { token: 'value', key: 'multiline' },
    argumentInputs: { who: 'name' },
    outputs,
    main,
    ...extra,
  });
}

const passing = action(async (input, context) => ({
  title: 'Probe',
  results: [{ name: 'hello', status: 'pass', detail: `hello ${input.name} with ${input.token}`, durationMs: 1 }],
  report: { release: 'releases/20251102_154900-f0959baf', details: { token: input.token } },
  outputs: { greeting: `hi ${input.name}`, count: String(input.count) },
  verdict: `greeted ${context.action}`,
}));

describe('defineAction', () => {
  it('masks secret inputs before anything else, then renders results, report, summary and outputs', async () => {
    const runner = new FakeRunner({
      name: 'ada',
      count: '2',
      token: 'Tk-123456',
      key: '-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\n-----END KEY-----',
    });
    await passing.run(runner);
    expect(runner.failed).toBeUndefined();
    expect(runner.secrets).toEqual([
      'Tk-123456',
      '-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\n-----END KEY-----',
      // …and as a JSON body would echo it (escaped line breaks).
      '-----BEGIN KEY-----\\nAAAABBBBCCCCDDDD\\n-----END KEY-----',
      'AAAABBBBCCCCDDDD',
    ]);
    expect(runner.log[0]).toBe('group: probe');
    expect(runner.log).toContain('info: ✅ hello: hello ada with *** (1 ms)');
    expect(runner.log.at(-1)).toBe('info: greeted probe');
    const reportFile = join(dir, 'deploy-gates', 'probe-report.json');
    expect(runner.outputs).toEqual({ greeting: 'hi ada', count: '2', report: reportFile });
    expect(readFileSync(reportFile, 'utf8')).toContain('"token": "***"');
    expect(runner.summaryText).toContain('Probe: 1/1 PASSED');
    expect(runner.summaryText).toContain(`| Report | ${reportFile} |`);
    expect(runner.summaryText).not.toContain('Tk-123456');
  });

  it('reports every bad input at once, with the secrets already masked, and runs nothing', async () => {
    let ran = false;
    const runner = new FakeRunner({ name: '', count: 'zero', token: 'Tk-123456' });
    await action(async () => ((ran = true), { title: 'x', results: [] })).run(runner);
    expect(ran).toBe(false);
    expect(runner.secrets).toEqual(['Tk-123456']);
    expect(runner.failed).toBe(
      'Invalid inputs:\n- Input "name": is required but was empty; e.g. deploy\n- Input "count": "zero" is not a whole number of at least 1, e.g. 1',
    );
  });

  it('fails by one rule: a returned failure, a UserError, a core ArgumentError named as its input, or a bug', async () => {
    const failing = new FakeRunner({ name: 'ada', count: '1' });
    await action(async () => ({
      title: 'Probe',
      results: [
        { name: 'one', status: 'fail', detail: 'broke', durationMs: 1 },
        { name: 'two', status: 'fail', detail: 'the whole story', durationMs: 1 },
      ],
      outputs: { greeting: 'hi', count: undefined },
      failure: 'Probe failed: the whole story',
    })).run(failing);
    // One annotation: the failure, then each failed check it does not already tell; outputs are still written.
    expect(failing.failed).toBe('Probe failed: the whole story\none: broke');
    expect(failing.log.filter((line) => line.startsWith('error:'))).toEqual([]);
    expect(failing.outputs).toEqual({ greeting: 'hi', report: expect.stringMatching(/probe-report\.json$/) });

    const userError = new FakeRunner({ name: 'ada', count: '1' });
    await action(async () => {
      throw new UserError('the host is gone; check the target');
    }).run(userError);
    expect(userError.failed).toBe('the host is gone; check the target');

    const argument = new FakeRunner({ name: 'ada', count: '1' });
    await action(async () => {
      throw new ArgumentError('who', '"ada" is not a release name');
    }).run(argument);
    expect(argument.failed).toBe('Input "name": "ada" is not a release name');

    const bug = new FakeRunner({ name: 'ada', count: '1', token: 'Tk-123456' });
    await action(async () => {
      throw new TypeError('cannot read x of undefined (Tk-123456)');
    }).run(bug);
    expect(bug.failed).toBe(
      'Unexpected error (a bug in deploy-gates, please report it): cannot read x of undefined (***)',
    );
  });

  it('writes the job summary best effort: a summary file that cannot be written is a warning, not a bug', async () => {
    process.env.GITHUB_STEP_SUMMARY = join(dir, 'gone', 'summary');
    const runner = new FakeRunner({ name: 'ada', count: '2', token: 'Tk-123456' });
    // @actions/core's own summary, which checks the file before it writes.
    runner.summary = (await import('@actions/core')).summary;
    await passing.run(runner);
    expect(runner.failed).toBeUndefined();
    expect(runner.log.filter((line) => line.startsWith('warning:'))).toEqual([
      expect.stringContaining(`No job summary was written (GITHUB_STEP_SUMMARY=${join(dir, 'gone', 'summary')})`),
    ]);
    expect(runner.outputs).toEqual({ greeting: 'hi ada', count: '2', report: expect.any(String) });
    expect(runner.log.at(-1)).toBe('info: greeted probe');
  });

  it('makes a few annotations per step, never more than GitHub shows (10): the failure names the first failed checks', async () => {
    const twelve = Array.from({ length: 12 }, (_, i) => ({
      name: `gate ${i + 1}`,
      status: 'fail' as const,
      detail: `missing file ${i + 1}`,
      durationMs: 1,
    }));
    const annotations = (runner: FakeRunner) => runner.log.filter((line) => /^(warning|error|failed):/.test(line));
    const failing = new FakeRunner({ name: 'ada', count: '1' });
    await action(async (_input, context) => {
      for (let i = 1; i <= 12; i++) context.logger.warning(`rate limited ${i}`);
      return { title: 'Gates', results: twelve, failure: 'Gates: FAILED (12 of 12 gates failed)' };
    }).run(failing);
    expect(annotations(failing)).toHaveLength(5);
    expect(failing.failed).toBe(
      'Gates: FAILED (12 of 12 gates failed)\ngate 1: missing file 1\ngate 2: missing file 2\ngate 3: missing file 3\n… and 9 more failed (see the log and the job summary)',
    );
    // Every check and every warning is still in the log, and every check in the summary.
    for (let i = 1; i <= 12; i++) {
      expect(failing.log).toContain(`info: ❌ gate ${i}: missing file ${i} (1 ms)`);
      expect(failing.summaryText).toContain(`| gate ${i} | ❌ fail | missing file ${i} |`);
    }
    expect(failing.log).toContain('info: Warning: rate limited 12');

    const passing = new FakeRunner({ name: 'ada', count: '1' });
    await action(async () => ({ title: 'Health', results: twelve, verdict: 'passes anyway' })).run(passing);
    expect(passing.failed).toBeUndefined();
    expect(annotations(passing)).toEqual([
      expect.stringMatching(
        /^warning: Health: FAILED \(0\/12 passed, 12 failed\)\ngate 1: missing file 1\n[\s\S]*\n… and 9 more failed/,
      ),
    ]);
  });

  it('never lets untrusted text start a workflow command in the log, and writes outputs only on one line', async () => {
    const injected = (what: string) => `${what}\n::warning title=x::pwned\r::add-mask::a\r\n  ##[error]old style`;
    const runner = new FakeRunner({ name: 'ada', count: '1' });
    await action(async (_input, context) => {
      context.logger.info(injected('current → releases/a'));
      context.logger.warning(injected('warned'));
      return {
        title: 'Probe',
        results: [{ name: 'symlink', status: 'pass', detail: injected('symlink → releases/a'), durationMs: 1 }],
        outputs: { greeting: 'hi' },
        verdict: injected('created 2025-01-01'),
      };
    }).run(runner);
    expect(runner.failed).toBeUndefined();
    const printed = runner.log
      .filter((entry) => entry.startsWith('info: '))
      .map((entry) => entry.slice('info: '.length));
    const lines = printed.join('\n').split(/\r\n|\r|\n/);
    expect(lines.filter((line) => /^\s*(::|##\[)/.test(line))).toEqual([]);
    expect(lines).toContain('> ::warning title=x::pwned');
    // The older syntax counts anywhere in a line (the runner's IndexOf("##[")): defused where it stands.
    expect(lines).toContain('  ## [error]old style');
    expect(lines.filter((line) => line.includes('##['))).toEqual([]);
    expect(runner.outputs).toEqual({ greeting: 'hi', report: expect.any(String) });

    const multiline = new FakeRunner({ name: 'ada', count: '1' });
    await action(async () => ({
      title: 'Probe',
      results: [],
      outputs: { greeting: 'hi', count: '2025-01-01T00:00:00Z\n::warning::x' },
    })).run(multiline);
    expect(multiline.outputs).toEqual({});
    expect(multiline.failed).toMatch(/^Unexpected error \(a bug in deploy-gates[\s\S]*must be one line/);
  });

  it('masks secrets before it escapes or serializes them: a secret with markdown or JSON specials is masked in the summary and report', async () => {
    const token = 'Tk_se*cr"et\\x';
    const runner = new FakeRunner({ name: 'ada', count: '2', token });
    await passing.run(runner);
    expect(runner.summaryText).toContain('hello ada with \\*\\*\\*');
    const report = readFileSync(join(dir, 'deploy-gates', 'probe-report.json'), 'utf8');
    expect(report).toContain('"token": "***"');
    for (const text of [runner.summaryText, report]) expect(text).not.toContain('Tk');
  });

  it('validates outputs before writing any: an empty or "null" output is a bug and no output exists', async () => {
    const runner = new FakeRunner({ name: 'ada', count: '1' });
    await action(async () => ({ title: 'Probe', results: [], outputs: { greeting: 'null', count: '1' } })).run(runner);
    expect(runner.outputs).toEqual({});
    expect(runner.failed).toMatch(/^Unexpected error \(a bug in deploy-gates/);
  });

  it('runs pre, then main, then post from one bundle, each with the state the earlier phases saved', async () => {
    const phased = defineAction({
      name: 'probe',
      stage: 'egress',
      inputs,
      outputs,
      pre: async (_input, context) => (
        context.state.save('started', 'yes'),
        { title: 'Pre', results: [], verdict: 'pre ran' }
      ),
      main: async (_input, context) => ({
        title: 'Main',
        results: [],
        verdict: `main after pre: ${context.state.get('started')}`,
      }),
      post: async () => ({ title: 'Post', results: [], verdict: 'post ran' }),
    });
    const state: Record<string, string> = {};
    const verdicts: (string | undefined)[] = [];
    for (let step = 0; step < 3; step++) {
      const runner = new FakeRunner({ name: 'ada', count: '1' }, { ...state });
      await phased.run(runner);
      Object.assign(state, runner.savedState);
      verdicts.push(runner.log.at(-1));
    }
    expect(verdicts).toEqual(['info: pre ran', 'info: main after pre: yes', 'info: post ran']);
  });

  it('runs post when main has run, with the state main saved', async () => {
    const withPost = action(
      async (_input, context) => (
        context.state.save('pid', '4242'),
        { title: 'Main', results: [], verdict: 'main ran' }
      ),
      {
        post: async (_input, context) => ({
          title: 'Post',
          results: [],
          verdict: `post stops ${context.state.get('pid')}`,
        }),
      },
    );
    const main = new FakeRunner({ name: 'ada', count: '1' });
    await withPost.run(main);
    expect(main.log.at(-1)).toBe('info: main ran');
    expect(main.savedState).toEqual({ 'deploy-gates-phase': 'main', pid: '4242' });

    const post = new FakeRunner({ name: 'ada', count: '1' }, main.savedState);
    await withPost.run(post);
    expect(post.log[0]).toBe('group: probe (post)');
    expect(post.log.at(-1)).toBe('info: post stops 4242');
  });
  it('writes one versioned report document for every action: stage, verdict, whole milliseconds, the runner facts', async () => {
    Object.assign(process.env, {
      GITHUB_REPOSITORY: 'octo-org/app',
      GITHUB_RUN_ID: '4242',
      GITHUB_RUN_ATTEMPT: '2',
      GITHUB_JOB: 'deploy',
      GITHUB_ACTION: 'health',
    });
    const runner = new FakeRunner({ name: 'ada', count: '1', 'report-path': 'out/health.json' });
    process.env.GITHUB_WORKSPACE = dir;
    await action(async () => ({
      title: 'Probe',
      results: [
        { name: 'one', status: 'pass', detail: 'ok', durationMs: 12.590203000000002 },
        { name: 'two', status: 'fail', detail: 'HTTP 500', durationMs: 0.4 },
      ],
      report: {
        release: '/srv/app/releases/20251102_154900-f0959baf/',
        sha: 'F0959BAF',
        details: { attempts: 3, steps: [{ name: 'lock', durationMs: 12.590203000000002 }] },
      },
      outputs: { greeting: 'hi' },
    })).run(runner);
    // A relative report-path is the workspace's; its path is the `report` output, even of a step with failed checks.
    const file = join(dir, 'out', 'health.json');
    expect(runner.outputs.report).toBe(file);
    const document = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(parseReportDocument(document).success).toBe(true);
    expect(document).toMatchObject({
      version: 1,
      action: 'probe',
      stage: 'health',
      ok: false,
      release: '20251102_154900-f0959baf',
      sha: 'f0959baf',
      bundleSha256: null,
      rolledBack: false,
      run: { repository: 'octo-org/app', id: '4242', attempt: 2, job: 'deploy', step: 'health' },
      results: [
        { name: 'one', status: 'pass', detail: 'ok', durationMs: 13 },
        { name: 'two', status: 'fail', detail: 'HTTP 500', durationMs: 0 },
      ],
      // Whole milliseconds in the action's details too.
      details: { attempts: 3, steps: [{ name: 'lock', durationMs: 13 }] },
    });
    expect(Number.isInteger(document.durationMs)).toBe(true);
    expect(Date.parse(document.startedAt as string)).toBeLessThanOrEqual(Date.now());
  });

  it('a returned failure makes the report not ok; outside a runner the run facts are null', async () => {
    for (const name of ['GITHUB_RUN_ID', 'GITHUB_RUN_ATTEMPT', 'GITHUB_JOB', 'GITHUB_ACTION', 'GITHUB_REPOSITORY'])
      delete process.env[name];
    const runner = new FakeRunner({ name: 'ada', count: '1' });
    await action(async () => ({ title: 'Probe', results: [], failure: 'nothing answered' })).run(runner);
    expect(runner.failed).toBe('nothing answered');
    const document = JSON.parse(readFileSync(runner.outputs.report!, 'utf8')) as Record<string, unknown>;
    expect(document).toMatchObject({
      ok: false,
      stage: 'health',
      release: null,
      details: {},
      run: { repository: null, id: null, attempt: null, job: null, step: null },
    });
  });

  it('with a post step, main writes no report unless it returns one; post writes it', async () => {
    const withPost = action(async () => ({ title: 'Main', results: [] }), {
      post: async () => ({ title: 'Post', results: [], report: { details: { violations: [] } } }),
    });
    const main = new FakeRunner({ name: 'ada', count: '1' });
    await withPost.run(main);
    expect(main.outputs).toEqual({});
    const post = new FakeRunner({ name: 'ada', count: '1' }, main.savedState);
    await withPost.run(post);
    const document = JSON.parse(readFileSync(post.outputs.report!, 'utf8')) as Record<string, unknown>;
    expect(document).toMatchObject({ ok: true, details: { violations: [] } });
  });
});
