import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { distFile, node24, repoRoot } from './paths.js';

export interface BundleRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  /** Files the action wrote under RUNNER_TEMP, path → content (reports). */
  runnerTemp: string;
}

/** Parses a GITHUB_OUTPUT file (`name<<DELIM` blocks, as @actions/core writes them). */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (!match) continue;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== match[2]; i++) body.push(lines[i]!);
    outputs[match[1]!] = body.join('\n');
  }
  return outputs;
}

/**
 * Runs dist/<action>/index.js the way the runner does: Node 24, every action.yml input as INPUT_* with its
 * default unless given, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / RUNNER_TEMP in a fresh temp dir.
 */
export async function runBundle(action: string, inputs: Record<string, string>, env: Record<string, string> = {}): Promise<BundleRun> {
  const temp = mkdtempSync(join(tmpdir(), `run-${action}-`));
  const yml = parse(readFileSync(join(repoRoot, 'actions', action, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }> };
  const inputEnv: Record<string, string> = {};
  for (const [name, spec] of Object.entries(yml.inputs)) inputEnv[`INPUT_${name.toUpperCase()}`] = String(spec.default ?? '');
  for (const [name, value] of Object.entries(inputs)) inputEnv[`INPUT_${name.toUpperCase()}`] = value;
  const files = { GITHUB_OUTPUT: join(temp, 'output'), GITHUB_STEP_SUMMARY: join(temp, 'summary'), GITHUB_STATE: join(temp, 'state') };
  for (const file of Object.values(files)) writeFileSync(file, '');
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('INPUT_') && !name.startsWith('GITHUB_')));
  const child = spawn(node24, [distFile(action)], {
    env: { ...baseEnv, ...inputEnv, ...files, RUNNER_TEMP: temp, GITHUB_ACTIONS: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exitCode = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const result = {
    exitCode,
    stdout,
    stderr,
    outputs: parseOutputs(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
    summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
    runnerTemp: temp,
  };
  return result;
}

export function cleanup(run: BundleRun): void {
  rmSync(run.runnerTemp, { recursive: true, force: true });
}
