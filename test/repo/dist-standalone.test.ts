import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { actionNames } from '#cli/metadata.js';
import { node24, repoRoot } from '../support/paths.js';

/**
 * The runner checks out this repository without node_modules and starts dist/<action>/index.js. A bundle that
 * still imports a package at start works inside this checkout (node_modules is up the tree) and fails there:
 * each bundle is copied where no node_modules can be found and started without inputs, and must get as far as
 * reporting its missing input.
 */
describe('committed bundles stand alone', () => {
  it.each(actionNames(repoRoot))('%s starts with no node_modules around it', (action) => {
    const dir = mkdtempSync(join(tmpdir(), 'standalone-'));
    try {
      cpSync(join(repoRoot, 'dist', action), join(dir, action), { recursive: true });
      const run = spawnSync(node24, [join(dir, action, 'index.js')], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, RUNNER_TEMP: dir },
      });
      expect(run.stderr).not.toMatch(/Cannot find (package|module)/);
      expect(run.stdout).toMatch(/^::error::(Invalid inputs|Input ")/m);
      expect(run.status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
