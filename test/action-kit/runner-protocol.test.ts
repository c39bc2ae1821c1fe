import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import * as actionsCore from '@actions/core';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { protocolRunner as runner } from '#action-kit/protocol-runner.js';
import type { Runner } from '#action-kit/runner.js';

/**
 * action-kit's protocol-runner.ts rebuilds @actions/core's functions from its protocol modules (to skip the index's
 * eager HTTP stack). Each function must write exactly what the @actions/core function of that name writes.
 */
type Api = Runner;

let dir: string;
const saved = { ...process.env };
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'runner-protocol-'));
  process.env.GITHUB_OUTPUT = join(dir, 'output');
  process.env.GITHUB_STEP_SUMMARY = join(dir, 'summary');
  process.env.GITHUB_STATE = join(dir, 'state');
  process.env['STATE_deploy-gates-phase'] = 'main';
  process.env['INPUT_URLS'] = '  https://a.example/health\n\n  https://b.example/health  \n';
  process.env['INPUT_BEARER-TOKEN'] = '  s3cret \n';
  process.env['INPUT_SLO_P95'] = '2s';
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  process.env = { ...saved };
  process.exitCode = undefined;
});

/** What one call writes: stdout, the output file (random heredoc delimiters made comparable), exit code. */
async function effects(call: () => unknown | Promise<unknown>) {
  for (const file of [process.env.GITHUB_OUTPUT!, process.env.GITHUB_STEP_SUMMARY!, process.env.GITHUB_STATE!])
    writeFileSync(file, '');
  process.exitCode = undefined;
  let stdout = '';
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  let returned: unknown;
  try {
    returned = await call();
  } finally {
    write.mockRestore();
  }
  const output = readFileSync(process.env.GITHUB_OUTPUT!, 'utf8').replace(/ghadelimiter_[0-9a-f-]+/g, 'DELIMITER');
  const summary = readFileSync(process.env.GITHUB_STEP_SUMMARY!, 'utf8');
  const state = readFileSync(process.env.GITHUB_STATE!, 'utf8').replace(/ghadelimiter_[0-9a-f-]+/g, 'DELIMITER');
  return { stdout, output, summary, state, exitCode: process.exitCode, returned };
}

const cases: [string, (api: Api) => unknown][] = [
  ['getInput', (api) => api.getInput('bearer-token')],
  ['getInput of an input named with spaces', (api) => api.getInput('slo p95')],
  ['getInput of a missing input', (api) => api.getInput('nothing')],
  ['getMultilineInput', (api) => api.getMultilineInput('urls')],
  ['setSecret', (api) => api.setSecret('hunter2')],
  ['setOutput', (api) => api.setOutput('report', '/tmp/report.json')],
  ['setOutput of a multi-line value', (api) => api.setOutput('detail', 'line 1\nline 2')],
  ['info', (api) => api.info('Attempt 1/6 https://a.example/health → HTTP 200 in 12 ms')],
  ['debug with command characters', (api) => api.debug('50% done\r\nnext: a,b')],
  ['warning with a title', (api) => api.warning('slow: 1.9 s', { title: 'health-retry' })],
  ['error with a title and newlines', (api) => api.error('line 1\nline 2: 100%', { title: 'pre-switch-gates' })],
  ['setFailed', (api) => api.setFailed('Input "attempts": must be at least 1')],
  ['summary', (api) => api.summary.addRaw('| gate | result |\n|---|---|\n', true).write()],
  ['startGroup', (api) => api.startGroup('health-retry (post)')],
  ['endGroup', (api) => api.endGroup()],
  ['saveState', (api) => api.saveState('deploy-gates-phase', 'main')],
  ['getState', (api) => api.getState('deploy-gates-phase')],
];

describe('action-kit protocol-runner.ts writes what @actions/core writes', () => {
  it.each(cases)('%s', async (_name, call) => {
    const ours = await effects(() => call(runner));
    const theirs = await effects(() => call(actionsCore as unknown as Api));
    expect(ours.returned === runner.summary ? 'summary' : ours.returned).toEqual(
      theirs.returned === actionsCore.summary ? 'summary' : theirs.returned,
    );
    expect({ ...ours, returned: undefined }).toEqual({ ...theirs, returned: undefined });
  });

  it('without GITHUB_OUTPUT, falls back to the set-output command like @actions/core', async () => {
    delete process.env.GITHUB_OUTPUT;
    const capture = async (api: Api) => {
      let stdout = '';
      const write = jest
        .spyOn(process.stdout, 'write')
        .mockImplementation((chunk: string | Uint8Array) => ((stdout += chunk.toString()), true));
      api.setOutput('healthy', 'true');
      write.mockRestore();
      return stdout;
    };
    expect(await capture(runner)).toBe(await capture(actionsCore as unknown as Api));
  });
});
