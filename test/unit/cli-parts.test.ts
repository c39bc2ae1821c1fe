import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closest, parseArgs, unknownInputMessage } from '#cli/args.js';
import { actionHelp } from '#cli/help.js';
import { actionNames, evaluateDefault, inputVariable, readAction } from '#cli/metadata.js';
import { runAction, runnerTempFor } from '#cli/runner.js';
import { CommandRenderer, parseFileCommands } from '#cli/workflow-commands.js';
import { repoRoot } from '../support/paths.js';

describe('CLI pieces', () => {
  it('joins a repeated input into lines and accepts --name=value', () => {
    const args = parseArgs(['health-retry', '--urls', 'a', '--urls=b', '--attempts', '3', '--debug']);
    expect(args).toEqual({
      action: 'health-retry',
      inputs: new Map([
        ['urls', 'a\nb'],
        ['attempts', '3'],
      ]),
      debug: true,
      help: false,
    });
    expect(() => parseArgs(['x', '--urls'])).toThrow('--urls needs a value');
  });

  it('names INPUT_ variables as the runner does and evaluates github.* defaults from the environment', () => {
    expect(inputVariable('bearer-token')).toBe('INPUT_BEARER-TOKEN');
    expect(evaluateDefault('${{ github.token }}', { GITHUB_TOKEN: 'ghs_x' })).toBe('ghs_x');
    expect(evaluateDefault('${{ github.sha }}', {})).toBe('');
  });

  it('renders workflow commands and masks registered values in later lines', () => {
    const renderer = new CommandRenderer(false);
    expect(renderer.render('::add-mask::hunter22')).toBeUndefined();
    expect(renderer.render('token is hunter22')).toBe('token is ***');
    expect(renderer.render('::error title=health-retry::down%0Anext')).toBe('Error (health-retry): down\nnext');
    expect(renderer.render('::debug::hidden')).toBeUndefined();
    expect(new CommandRenderer(true).render('::debug::shown')).toBe('##[debug]shown');
  });

  it('reads GITHUB_OUTPUT files in both forms', () => {
    const text = 'healthy<<ghadelimiter_1\ntrue\nghadelimiter_1\nreport=/tmp/r.json\nmulti<<EOF\na\nb\nEOF\n';
    expect(parseFileCommands(text)).toEqual(
      new Map([
        ['healthy', 'true'],
        ['report', '/tmp/r.json'],
        ['multi', 'a\nb'],
      ]),
    );
  });
});

describe('CLI arguments and help', () => {
  it('refuses a flag where a value belongs, instead of taking the flag as the value', () => {
    expect(() => parseArgs(['health-retry', '--urls', '--attempts', '3'])).toThrow(
      '--urls needs a value, but the next argument starts with "--"; if that is the value (a private key starts with "-----"), write --urls=VALUE or --urls-file PATH',
    );
    expect(parseArgs(['health-retry', '--expect-body=--x']).inputs).toEqual(new Map([['expect-body', '--x']]));
  });

  it('takes --out DIR as the run directory, not as an input', () => {
    expect(parseArgs(['release-switch', '--out', '/tmp/reports', '--keep', '2'])).toEqual({
      action: 'release-switch',
      inputs: new Map([['keep', '2']]),
      debug: false,
      help: false,
      out: '/tmp/reports',
    });
    expect(() => parseArgs(['release-switch', '--out'])).toThrow('--out needs a value');
  });

  it('offers the closest valid name for a mistyped input or action', () => {
    const valid = Object.keys(readAction(repoRoot, 'health-retry').inputs);
    expect(unknownInputMessage('health-retry', ['url'], valid)).toMatch(
      /^health-retry has no input --url\. Valid inputs: --urls, --expect-status, .*\. Did you mean --urls\?$/,
    );
    expect(unknownInputMessage('health-retry', ['atempts', 'expect-jsn'], valid)).toMatch(
      /\. Did you mean --attempts for --atempts, --expect-json for --expect-jsn\?$/,
    );
    expect(unknownInputMessage('health-retry', ['colour'], valid)).not.toContain('Did you mean');
    expect(closest('helth-retry', actionNames(repoRoot))).toBe('health-retry');
    expect(closest('release-swtch', actionNames(repoRoot))).toBe('release-switch');
    expect(closest('release-service', actionNames(repoRoot))).toBe('release-services');
    expect(closest('deploy', actionNames(repoRoot))).toBe('deployment-ledger');
    expect(closest('frobnicate', actionNames(repoRoot))).toBeUndefined();
  });

  it.each(actionNames(repoRoot))(
    '%s --help starts with a one-line description and gives an example that uses valid inputs',
    (name) => {
      const action = readAction(repoRoot, name);
      const help = actionHelp(action);
      const [first, blank] = help.split('\n');
      expect(first).toMatch(new RegExp(`^deploy-gates ${name}: \\S.{20,110}\\.$`));
      expect(blank).toBe('');
      const example = /\nExample:\n {2}(.+)\n/.exec(help)?.[1] ?? '';
      expect(example).toContain(`deploy-gates ${name} --`);
      const given = [...example.matchAll(/ --([\w-]+)/g)].map((match) => match[1]!);
      for (const input of given) expect(Object.keys(action.inputs)).toContain(input);
      for (const [input, spec] of Object.entries(action.inputs))
        if (spec.required && spec.default === undefined) expect(given).toContain(input);
      expect(help).toContain('\nInputs:\n');
    },
  );
});

describe('CLI runs', () => {
  let work: string;
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'cli-runs-'));
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('gives every run a fresh RUNNER_TEMP, so two runs keep their own reports', async () => {
    const root = join(work, 'app');
    for (const release of ['20250101_000000-aaaaaaaa', '20250102_000000-bbbbbbbb']) {
      mkdirSync(join(root, 'releases', release), { recursive: true });
      writeFileSync(join(root, 'releases', release, 'index.html'), release);
    }
    const action = readAction(repoRoot, 'release-switch');
    const run = (release: string) =>
      runAction(
        repoRoot,
        action,
        new Map([
          ['releases-root', root],
          ['release', release],
        ]),
        false,
        () => undefined,
      );
    const first = await run('20250101_000000-aaaaaaaa');
    const second = await run('20250102_000000-bbbbbbbb');
    try {
      expect([first.exitCode, second.exitCode]).toEqual([0, 0]);
      expect(first.runnerTemp).not.toBe(second.runnerTemp);
      const reports = [first, second].map((result) => result.outputs.get('report')!);
      expect(reports[0]!.startsWith(`${first.runnerTemp}/`)).toBe(true);
      expect(reports[1]!.startsWith(`${second.runnerTemp}/`)).toBe(true);
      expect(JSON.parse(readFileSync(reports[0]!, 'utf8'))).toMatchObject({
        currentRelease: '20250101_000000-aaaaaaaa',
      });
      expect(JSON.parse(readFileSync(reports[1]!, 'utf8'))).toMatchObject({
        currentRelease: '20250102_000000-bbbbbbbb',
      });
    } finally {
      for (const result of [first, second]) rmSync(result.runnerTemp, { recursive: true, force: true });
    }
  });

  it('uses --out DIR as RUNNER_TEMP when given, creating it', async () => {
    const out = join(work, 'reports', 'run-1');
    expect(await runnerTempFor('release-switch', out)).toBe(out);
    expect(existsSync(out)).toBe(true);
  });
});
