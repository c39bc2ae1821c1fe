import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { node24, repoRoot } from '../support/paths.js';

describe('npm run demo (the README\'s first command)', () => {
  it('deploys the sample app through the CLI: gates pass, current switches, the app is healthy', () => {
    const demo = spawnSync(node24, [join(repoRoot, 'scripts/demo.mjs')], { encoding: 'utf8', timeout: 120_000 });
    expect({ status: demo.status, stderr: demo.stderr }).toEqual({ status: 0, stderr: '' });
    expect(demo.stdout).toContain('Pre-switch gates (pre-switch): 5/5 PASSED');
    expect(demo.stdout).toMatch(/switch current: releases\/20251101_090000-1f2e3d4c → releases\/20251102_154900-f0959baf \(atomic rename\)/);
    expect(demo.stdout).toContain('### ✅ Health checks: 4/4 PASSED');
    expect(demo.stdout).toContain('Deployed releases/20251102_154900-f0959baf: gates passed, switched atomically, healthy.');
  }, 150_000);
});
