import { describe, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../support/paths.js';

/**
 * The build that Jest's globalSetup (test/support/dist-build.mjs) started when this run began, from the same
 * sources: its directory holds out/, build.log and, once it has ended, status.json. Without it (a run that left
 * globalSetup out), the test builds by itself.
 */
const sharedBuild = process.env.DEPLOY_GATES_DIST_BUILD;

function files(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? files(dir, join(prefix, entry.name)) : [join(prefix, entry.name)]))
    .sort();
}

/** The last lines of the build's output, each cut short: enough to name the problem, never megabytes. */
function excerpt(log: string): string {
  const lines = log.trimEnd().split('\n');
  const shown = lines.slice(-30).map((line) => (line.length > 300 ? `${line.slice(0, 300)}…` : line));
  return `${lines.length > shown.length ? '  …\n' : ''}${shown.map((line) => `  ${line}`).join('\n')}`;
}

/** Waits for the shared build (or builds into `dir`); returns its output directory, or throws a short error. */
async function freshBuild(dir: string): Promise<string> {
  let status: { code: number | null; signal: string | null; error?: string };
  let log: () => string;
  if (sharedBuild) {
    while (!existsSync(join(dir, 'status.json'))) await sleep(200);
    status = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
    log = () => readFileSync(join(dir, 'build.log'), 'utf8');
  } else {
    const run = spawnSync(process.execPath, [join(repoRoot, 'scripts/build.mjs'), '--out', join(dir, 'out')], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    status = { code: run.status, signal: run.signal, error: run.error?.message };
    log = () => `${run.stdout}${run.stderr}`;
  }
  if (status.code !== 0) {
    throw new Error(
      `\`npm run build\` failed (${status.error ?? (status.code === null ? `signal ${status.signal}` : `exit ${status.code}`)}):\n${excerpt(log())}`,
    );
  }
  return join(dir, 'out');
}

describe('committed dist/', () => {
  it('is exactly what `npm run build` makes from the sources', async () => {
    const dir = sharedBuild ?? mkdtempSync(join(tmpdir(), 'dist-check-'));
    try {
      const out = await freshBuild(dir);
      const dist = join(repoRoot, 'dist');
      const fresh = files(out);
      const committed = existsSync(dist) ? files(dist) : [];
      const differences = [
        ...fresh.filter((file) => !committed.includes(file)).map((file) => `missing: dist/${file}`),
        ...committed.filter((file) => !fresh.includes(file)).map((file) => `extra:   dist/${file}`),
        ...fresh
          .filter(
            (file) => committed.includes(file) && !readFileSync(join(out, file)).equals(readFileSync(join(dist, file))),
          )
          .map((file) => `stale:   dist/${file}`),
      ];
      if (differences.length > 0) {
        throw new Error(
          `dist/ is not what \`npm run build\` makes from the current sources:\n  ${differences.join('\n  ')}\nFix: run \`npm run build\` and commit dist/.`,
        );
      }
    } finally {
      if (!sharedBuild) rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
