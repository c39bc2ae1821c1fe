import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { node24, repoRoot } from '../support/paths.js';

describe("npm run demo (the README's first command)", () => {
  it('deploys the sample app (GO), then a broken release that fails its health check and is rolled back automatically (NO-GO)', () => {
    const demo = spawnSync(node24, [join(repoRoot, 'scripts/demo.mjs')], { encoding: 'utf8', timeout: 240_000 });
    expect({ status: demo.status, stderr: demo.stderr }).toEqual({ status: 0, stderr: '' });
    const out = demo.stdout;
    // The chain, one line per step, each with its time.
    for (const step of [
      'pack-bundle',
      'verify-bundle-sha',
      'pre-switch-gates',
      'release-switch',
      'health-retry',
      'deployment-ledger',
    ]) {
      expect(out).toMatch(new RegExp(`✅ ${step} +.+ \\(\\d+\\.\\d s\\)`));
    }
    expect(out).toMatch(/✅ verify-bundle-sha +SHA-256 matches, unpacked into releases\/\d{8}_\d{6}-f0959baf/);
    expect(out).toMatch(
      /smoke \(sentinel\) +(smoke test passed; 0 connection\(s\) outside the allow-list|egress-sentinel cannot watch connections on this machine)/,
    );
    // The broken release: the health check fails, the rollback brings the first release back, healthy.
    const good = /✅ GO: (\d{8}_\d{6}-f0959baf) is live on demo/.exec(out)?.[1];
    expect(good).toBeDefined();
    expect(out).toMatch(/✅ health-retry +.+ — failed as designed/);
    expect(out).toMatch(new RegExp(`✅ rollback +current → (releases/)?${good}`));
    expect(out).toMatch(/✅ health-retry +previous release healthy/);
    expect(out).toMatch(new RegExp(`❌ NO-GO: health-retry failed; rolled back to ${good}`));
    expect(out).toContain(`current is ${good} again, the healthy release of the first deploy.`);
    expect(out).toContain('Everything behaved as designed');
    expect(out).not.toContain('UNEXPECTED');
  }, 300_000);
});
