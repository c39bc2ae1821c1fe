import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateDefault, inputVariable, readAction } from '#cli/metadata.js';
import { parseFileCommands } from '#cli/workflow-commands.js';
import { distFile, node24, repoRoot } from './paths.js';

export interface BundleRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as the runner's log shows them. */
  log: string;
  outputs: Record<string, string>;
  summary: string;
  /** RUNNER_TEMP of the step: holds only what the action itself wrote (reports, keys while it runs). */
  runnerTemp: string;
  /** The step's own folder (file-command files and RUNNER_TEMP); removed by cleanup(). */
  dir: string;
}

/**
 * Runs dist/<action>/index.js the way the runner does: Node 24, every action.yml input as INPUT_* with its
 * default unless given, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / GITHUB_STATE files and RUNNER_TEMP in a fresh
 * temp dir. GITHUB_* variables of the test process are not passed on; give them in `env`.
 * `whileRunning` gets the running process and its RUNNER_TEMP (e.g. to signal it the way a cancelled job does).
 */
export async function runBundle(
  action: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {},
  whileRunning?: (child: ChildProcess, runnerTemp: string) => void | Promise<void>,
): Promise<BundleRun> {
  const dir = mkdtempSync(join(tmpdir(), `run-${action}-`));
  const runnerTemp = join(dir, 'runner-temp');
  mkdirSync(runnerTemp);
  const inputEnv: Record<string, string> = {};
  for (const [name, spec] of Object.entries(readAction(repoRoot, action).inputs))
    inputEnv[inputVariable(name)] = evaluateDefault(String(spec.default ?? ''), env);
  for (const [name, value] of Object.entries(inputs)) inputEnv[inputVariable(name)] = value;
  const files = {
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary'),
    GITHUB_STATE: join(dir, 'state'),
  };
  for (const file of Object.values(files)) writeFileSync(file, '');
  const baseEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('INPUT_') && !name.startsWith('GITHUB_')),
  );
  const child = spawn(node24, [distFile(action)], {
    env: { ...baseEnv, ...inputEnv, ...files, RUNNER_TEMP: runnerTemp, GITHUB_ACTIONS: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let log = '';
  child.stdout.on('data', (chunk: Buffer) => ((stdout += chunk.toString()), (log += chunk.toString())));
  child.stderr.on('data', (chunk: Buffer) => ((stderr += chunk.toString()), (log += chunk.toString())));
  const closed = new Promise<number>((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  await whileRunning?.(child, runnerTemp);
  const exitCode = await closed;
  return {
    exitCode,
    stdout,
    stderr,
    log,
    outputs: Object.fromEntries(parseFileCommands(readFileSync(files.GITHUB_OUTPUT, 'utf8'))),
    summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
    runnerTemp,
    dir,
  };
}

export function cleanup(run: BundleRun): void {
  rmSync(run.dir, { recursive: true, force: true });
}
