import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run as preSwitchGates } from '../../actions/pre-switch-gates/src/main.js';
import { run as releaseSwitch } from '../../actions/release-switch/src/main.js';
import { run as resolveBuildRun } from '../../actions/resolve-build-run/src/main.js';
import { FakeRunner } from '../support/fake-runner.js';
import { makeReleases, releaseName } from '../support/release-tree.js';

/** The adapters' own behaviour, in-process through a FakeRunner (the bundle tests cover the same as the runner runs it). */
let dir: string;
const saved = { ...process.env };
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'adapters-'));
  process.env.RUNNER_TEMP = dir;
  delete process.env.GITHUB_STEP_SUMMARY;
});
afterEach(() => {
  process.env = { ...saved };
  rmSync(dir, { recursive: true, force: true });
});

describe('action adapters in-process', () => {
  it('release-switch switches current and writes its outputs', async () => {
    const [a, b] = [releaseName(1), releaseName(2)];
    await makeReleases(dir, [a, b]);
    const runner = new FakeRunner({ 'releases-root': dir, release: b, target: 'local', keep: '5', mode: 'switch' });
    await releaseSwitch(runner);
    expect(runner.failed).toBeUndefined();
    expect(readlinkSync(join(dir, 'current'))).toBe(`releases/${b}`);
    expect(runner.outputs).toMatchObject({
      'current-release': b,
      switched: 'true',
      'rolled-back': 'false',
      report: join(dir, 'deploy-gates/release-switch-report.json'),
    });
  });

  it('release-switch shows a hostile current symlink target as text: no log line starts a workflow command', async () => {
    const [a, b] = [releaseName(1), releaseName(2)];
    await makeReleases(dir, [a, b]);
    symlinkSync('releases/x\n::warning title=x::pwned\n##[error]old', join(dir, 'current'));
    const runner = new FakeRunner({ 'releases-root': dir, release: b, target: 'local', keep: '5', mode: 'switch' });
    await releaseSwitch(runner);
    expect(runner.failed).toBeUndefined();
    expect(readlinkSync(join(dir, 'current'))).toBe(`releases/${b}`);
    const lines = runner.log
      .filter((entry) => entry.startsWith('info: '))
      .map((entry) => entry.slice(6))
      .join('\n')
      .split(/\r\n|\r|\n/);
    // A result is one log line, whatever line breaks the link holds.
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^✅ release: .* current: releases\/x ::warning title=x::pwned ## \[error\]old \(not a release\) \(\d+ ms\)$/,
      ),
    );
    expect(lines.filter((line) => /^\s*(::|##\[)/.test(line))).toEqual([]);
    expect(runner.summaryText).not.toContain('\n::');
  });

  it('release-switch names its input when core refuses a release', async () => {
    await makeReleases(dir, [releaseName(1)]);
    const runner = new FakeRunner({ 'releases-root': dir, release: '..', target: 'local' });
    await releaseSwitch(runner);
    expect(runner.failed).toMatch(/^Input "release": "\.\." is not a release name/);
    expect(runner.outputs).toEqual({});
  });

  it('pre-switch-gates on an empty directory (laravel preset: every gate fails) makes one annotation, not one per gate', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const runner = new FakeRunner({
      'release-dir': empty,
      preset: 'laravel',
      target: 'local',
      layer: 'pre-switch',
      timeout: '30s',
    });
    await preSwitchGates(runner);
    expect(Number(runner.outputs.failed)).toBeGreaterThan(10);
    expect(runner.log.filter((line) => /^(warning|error|failed):/.test(line))).toHaveLength(1);
    expect(runner.failed).toMatch(
      /^Pre-switch gates \(pre-switch\): FAILED \(\d+ of \d+ gates failed\)[^\n]*\n.*\n.*\n.*\n… and \d+ more failed \(see the log and the job summary\)$/,
    );
  });

  it('pre-switch-gates names release-dir when the release is missing, and masks the ssh key first', async () => {
    const runner = new FakeRunner({
      'release-dir': join(dir, 'missing'),
      preset: 'node',
      target: 'local',
      'ssh-key': 'not-used-but-secret-key-body',
    });
    await preSwitchGates(runner);
    expect(runner.secrets).toContain('not-used-but-secret-key-body');
    expect(runner.failed).toBe(
      `Input "release-dir": ${join(dir, 'missing')} does not exist on local; pass the directory the release was unpacked into (e.g. releases/20251102_154900-f0959baf) — was the bundle unpacked before this step?`,
    );
  });

  it('resolve-build-run masks GITHUB_TOKEN when it falls back to it, and says which input is missing', async () => {
    process.env.GITHUB_TOKEN = 'ghs_fallback_token_value';
    delete process.env.GITHUB_REPOSITORY;
    const runner = new FakeRunner({ workflow: 'build.yml', sha: 'a'.repeat(40) });
    await resolveBuildRun(runner);
    expect(runner.secrets).toEqual(['ghs_fallback_token_value']);
    expect(runner.failed).toBe('Input "repository": is empty and GITHUB_REPOSITORY is not set; pass owner/name');
  });
});
