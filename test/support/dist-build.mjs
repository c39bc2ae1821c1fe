// Jest globalSetup: starts `scripts/build.mjs --out <temp>/out` in the background as the run begins, so the build
// runs alongside the other test files; test/repo/dist-fresh.test.ts (run last, see sequencer.cjs) waits for it and
// compares it with dist/. One build per run, from the sources as they are: nothing is cached between runs.
// <temp>/build.log holds the build's output; <temp>/status.json ({ code, signal }) appears when it has ended.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const testFile = join(repoRoot, 'test/repo/dist-fresh.test.ts');
/** The variable that hands the build's directory to the test (Jest starts its workers after globalSetup). */
const envName = 'DEPLOY_GATES_DIST_BUILD';

export default function startDistBuild(globalConfig) {
  // A run limited to other test files (`jest test/unit`) does not need the build.
  const patterns = globalConfig.testPathPatterns;
  if (patterns?.isSet?.() && !patterns.toExecutor({ rootDir: globalConfig.rootDir }).isMatch(testFile)) return;

  const dir = mkdtempSync(join(tmpdir(), 'dist-check-'));
  const log = openSync(join(dir, 'build.log'), 'w');
  const child = spawn(process.execPath, [join(repoRoot, 'scripts/build.mjs'), '--out', join(dir, 'out')], {
    cwd: repoRoot,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  // Below the test workers' priority: the build takes the processor time they leave (waiting on servers, sshd, timers).
  try {
    setPriority(child.pid, 10);
  } catch {
    // not allowed here: the build runs at normal priority
  }
  const settle = (status) => {
    writeFileSync(join(dir, 'status.json.part'), JSON.stringify(status));
    renameSync(join(dir, 'status.json.part'), join(dir, 'status.json'));
  };
  child.on('error', (error) => settle({ code: null, signal: null, error: error.message }));
  child.on('exit', (code, signal) => settle({ code, signal }));
  process.env[envName] = dir;
  globalThis.__deployGatesDistBuild = { dir, child };
}

/** Jest globalTeardown (dist-build-teardown.mjs): stops a build nobody waited for and removes its directory. */
export function stopDistBuild() {
  const build = globalThis.__deployGatesDistBuild;
  if (!build) return;
  delete globalThis.__deployGatesDistBuild;
  delete process.env[envName];
  if (build.child.exitCode === null && build.child.signalCode === null) build.child.kill('SIGKILL');
  rmSync(build.dir, { recursive: true, force: true });
}
