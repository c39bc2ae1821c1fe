import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';

function files(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? files(dir, join(prefix, entry.name)) : [join(prefix, entry.name)]))
    .sort();
}

describe('committed dist/', () => {
  it('is exactly what `npm run build` makes from the sources', () => {
    const out = mkdtempSync(join(tmpdir(), 'dist-check-'));
    try {
      execFileSync(process.execPath, [join(repoRoot, 'scripts/build.mjs'), '--out', out], { cwd: repoRoot, stdio: 'pipe' });
      const fresh = files(out);
      expect(files(join(repoRoot, 'dist'))).toEqual(fresh);
      const stale = fresh.filter((file) => !readFileSync(join(out, file)).equals(readFileSync(join(repoRoot, 'dist', file))));
      expect({ stale, fix: stale.length > 0 ? 'run `npm run build` and commit dist/' : 'none' }).toEqual({ stale: [], fix: 'none' });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 600_000);
});
