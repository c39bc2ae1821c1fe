import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';

describe('action-docs/', () => {
  it('matches what `npm run docs` generates from every action.yml', () => {
    const check = spawnSync(process.execPath, [join(repoRoot, 'scripts/docs.mjs'), '--check'], { cwd: repoRoot, encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  }, 120_000);
});
