import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { evaluateDefault, inputVariable, type ActionMetadata } from './metadata.js';
import { CommandRenderer, parseFileCommands } from './workflow-commands.js';

export interface RunResult {
  exitCode: number;
  /** The run's RUNNER_TEMP, where the action wrote its reports; kept after the run. */
  runnerTemp: string;
  outputs: Map<string, string>;
  summary: string;
}

/** The Node the runner would use for `runs.using: node24`: this one if it is 24+, else the one npm installed. */
export function findNode(root: string, using: string): string {
  const wanted = Number(/^node(\d+)$/.exec(using)?.[1] ?? '24');
  if (Number(process.versions.node.split('.')[0]) >= wanted) return process.execPath;
  const installed = join(root, 'node_modules', 'node', 'bin', 'node');
  if (existsSync(installed)) return installed;
  throw new Error(
    `runs.using is ${using} but this is Node ${process.versions.node}; run \`npm ci\` (it installs Node ${wanted}) or use Node ${wanted}`,
  );
}

/** The environment the runner gives a step: INPUT_* (with action.yml defaults) and the file-command files. */
function stepEnvironment(
  action: ActionMetadata,
  inputs: Map<string, string>,
  files: Record<string, string>,
  debug: boolean,
) {
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('INPUT_')),
  );
  for (const [name, input] of Object.entries(action.inputs)) {
    env[inputVariable(name)] = inputs.get(name) ?? evaluateDefault(String(input.default ?? ''), process.env);
  }
  // A default report path relative to the workspace goes into this run's directory, not the current one.
  const reportDefault = env[inputVariable('report-path')];
  if (!inputs.has('report-path') && reportDefault && !isAbsolute(reportDefault))
    env[inputVariable('report-path')] = join(files.RUNNER_TEMP!, reportDefault);
  Object.assign(env, {
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_WORKSPACE: process.env.GITHUB_WORKSPACE ?? process.cwd(),
    RUNNER_TEMP: files.RUNNER_TEMP,
    GITHUB_OUTPUT: files.GITHUB_OUTPUT,
    GITHUB_STATE: files.GITHUB_STATE,
    GITHUB_STEP_SUMMARY: files.GITHUB_STEP_SUMMARY,
    GITHUB_ENV: files.GITHUB_ENV,
    GITHUB_PATH: files.GITHUB_PATH,
    GITHUB_ACTION: action.name,
  });
  if (debug) env.RUNNER_DEBUG = '1';
  return env;
}

function runPhase(
  node: string,
  script: string,
  env: NodeJS.ProcessEnv,
  renderer: CommandRenderer,
  print: (line: string) => void,
) {
  return new Promise<number>((done, fail) => {
    const child = spawn(node, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const show = (line: string) => {
      const rendered = renderer.render(line);
      if (rendered !== undefined) print(rendered);
    };
    createInterface({ input: child.stdout }).on('line', show);
    createInterface({ input: child.stderr }).on('line', show);
    child.on('error', fail);
    child.on('close', (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

/**
 * The RUNNER_TEMP of one run: `out` when given, else a fresh directory (under RUNNER_TEMP when the CLI itself runs
 * in a job, else the system's temp dir), so two runs never overwrite each other's reports. It is kept.
 */
export async function runnerTempFor(actionName: string, out?: string): Promise<string> {
  if (out !== undefined) {
    const dir = resolve(out);
    await mkdir(dir, { recursive: true });
    return dir;
  }
  const base = process.env.RUNNER_TEMP ?? tmpdir();
  await mkdir(base, { recursive: true });
  return mkdtemp(join(base, `deploy-gates-${actionName}-run-`));
}

export interface RunOptions {
  /** The run's RUNNER_TEMP (see runnerTempFor); a fresh directory when not given. */
  runnerTemp?: string;
  /** A command run after the main step and before the post step, as a job's later steps (its exit code counts). */
  command?: string[];
}

function runCommand([file, ...args]: string[], env: NodeJS.ProcessEnv, print: (line: string) => void) {
  return new Promise<number>((done) => {
    const child = spawn(file!, args, { env, stdio: ['inherit', 'pipe', 'pipe'] });
    createInterface({ input: child.stdout }).on('line', print);
    createInterface({ input: child.stderr }).on('line', print);
    child.on('error', (error) => (print(`${file}: ${error.message}`), done(127)));
    child.on('close', (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

/**
 * Runs a bundled action the way the runner does: pre, main and post as separate Node processes,
 * inputs through INPUT_*, outputs/state/summary through files, state handed from main to post as STATE_*.
 */
export async function runAction(
  root: string,
  action: ActionMetadata,
  inputs: Map<string, string>,
  debug: boolean,
  print: (line: string) => void,
  options: RunOptions = {},
): Promise<RunResult> {
  const node = findNode(root, action.runs.using);
  // Reports written to RUNNER_TEMP must outlive this run (their paths are printed), so it is not in `temp`.
  const runnerTemp = options.runnerTemp ?? (await runnerTempFor(action.name));
  const temp = await mkdtemp(join(tmpdir(), `deploy-gates-${action.name}-step-`));
  try {
    const files: Record<string, string> = { RUNNER_TEMP: runnerTemp };
    for (const name of ['GITHUB_OUTPUT', 'GITHUB_STATE', 'GITHUB_STEP_SUMMARY', 'GITHUB_ENV', 'GITHUB_PATH']) {
      files[name] = join(temp, name.toLowerCase());
      await writeFile(files[name]!, '');
    }
    const env = stepEnvironment(action, inputs, files, debug);
    const renderer = new CommandRenderer(debug);
    const script = (path: string) => resolve(action.dir, path);

    // What earlier phases saved reaches the later ones as STATE_* variables, as the runner hands it on.
    const withState = async () => {
      const state = parseFileCommands(await readFile(files.GITHUB_STATE!, 'utf8'));
      return { ...env, ...Object.fromEntries([...state].map(([name, value]) => [`STATE_${name}`, value])) };
    };
    let exitCode = 0;
    if (action.runs.pre) exitCode = await runPhase(node, script(action.runs.pre), env, renderer, print);
    if (exitCode === 0) exitCode = await runPhase(node, script(action.runs.main), await withState(), renderer, print);
    if (exitCode === 0 && options.command) {
      print(`▸ Run ${options.command.join(' ')}`);
      exitCode = await runCommand(options.command, process.env, print);
    }
    if (action.runs.post) {
      print(`▸ Post ${action.name}`);
      const postCode = await runPhase(node, script(action.runs.post), await withState(), renderer, print);
      if (exitCode === 0) exitCode = postCode;
    }
    const mask = (text: string) => renderer.mask(text);
    const outputs = new Map(
      [...parseFileCommands(await readFile(files.GITHUB_OUTPUT!, 'utf8'))].map(([k, v]) => [k, mask(v)]),
    );
    return { exitCode, runnerTemp, outputs, summary: mask(await readFile(files.GITHUB_STEP_SUMMARY!, 'utf8')) };
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
