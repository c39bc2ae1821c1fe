import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { distFile, node24 } from '../support/paths.js';

/**
 * What a bundle loads with import() on first use sits in chunk files beside its main file (scripts/build.mjs). A step
 * stopped at an input error — the first line a user with a wrong input waits for — should need none of them:
 * release-services reads its inputs with its main file alone and loads its YAML parser (for a non-empty `services`)
 * and the hosts, release, gate and health code only once there is something to parse or do (README, Cold start).
 * Run here from a copy of the main file without its chunks, where loading any of them fails.
 */
describe('release-services: the input-error path needs no chunk file', () => {
  const dir = mkdtempSync(join(tmpdir(), `input-error-path-${process.pid}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(distFile('release-services'), join(dir, 'index.js'));
  copyFileSync(join(dirname(distFile('release-services')), 'package.json'), join(dir, 'package.json'));
  const start = (env: Record<string, string>) =>
    spawnSync(node24, [join(dir, 'index.js')], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, RUNNER_TEMP: dir, ...env },
    });

  it('no services: the input error, from the main file alone', () => {
    const run = start({});
    expect(run.stdout).toMatch(/^::error::Input "services": must be a YAML list with at least one service/m);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/Cannot find module|ERR_MODULE_NOT_FOUND/);
  });

  it('services given: the YAML parser is a chunk of its own, which this copy lacks', () => {
    const run = start({ INPUT_SERVICES: '- name: api' });
    expect(`${run.stdout}${run.stderr}`).toMatch(/Cannot find module|ERR_MODULE_NOT_FOUND/);
  });
});
