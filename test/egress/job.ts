import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { evaluateDefault, inputVariable, readAction } from '#cli/metadata.js';
import { parseFileCommands } from '#cli/workflow-commands.js';
import { distFile, node24, repoRoot } from '../support/paths.js';
import { isRunning } from '../support/processes.js';

/** The parts of the sentinel's saved state the tests read. */
type SavedState = { pid?: number; snapshotPath?: string; dir?: string; rawAtStart?: Record<string, number> };

export interface PhaseRun {
  exitCode: number;
  log: string;
  outputs: Record<string, string>;
  summary: string;
}

/**
 * One job on the runner, inside a network namespace: egress-sentinel's main step, the job's later steps, then its
 * post step, each a separate process as the runner starts them (`ip netns exec <runner> node dist/…/index.js`),
 * inputs as INPUT_* with action.yml's defaults, state handed from main to post as STATE_* variables.
 */
export class Job {
  readonly dir = mkdtempSync(join(tmpdir(), 'egress-job-'));
  readonly workspace = join(this.dir, 'workspace');
  readonly runnerTemp = join(this.dir, 'runner-temp');
  private state: Record<string, string> = {};
  private readonly env: Record<string, string>;
  /**
   * The bundles run (a bench points it at an older build to compare; EGRESS_BUNDLE_DIR runs the tests against
   * another build, to see a test fail on the code before a fix); the files are action.yml's `runs`.
   */
  bundleDir = process.env.EGRESS_BUNDLE_DIR || dirname(distFile('egress-sentinel'));
  private readonly runs: { main: string; post: string };

  /** `user`: run the steps as this uid without privileges (no root, no sudo), as on a locked-down runner. */
  constructor(
    readonly namespace: string,
    inputs: Record<string, string>,
    private readonly user?: number,
  ) {
    mkdirSync(this.workspace);
    mkdirSync(this.runnerTemp);
    if (user !== undefined) for (const dir of [this.dir, this.workspace, this.runnerTemp]) chmodSync(dir, 0o777);
    const inputEnv: Record<string, string> = {};
    const action = readAction(repoRoot, 'egress-sentinel');
    this.runs = { main: basename(action.runs.main), post: basename(action.runs.post ?? action.runs.main) };
    for (const [name, spec] of Object.entries(action.inputs))
      inputEnv[inputVariable(name)] = evaluateDefault(String(spec.default ?? ''), {});
    for (const [name, value] of Object.entries(inputs)) inputEnv[inputVariable(name)] = value;
    const base = Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !name.startsWith('INPUT_') && !name.startsWith('GITHUB_') && !name.startsWith('STATE_'),
      ),
    ) as Record<string, string>;
    this.env = {
      ...base,
      ...inputEnv,
      GITHUB_ACTIONS: 'true',
      GITHUB_WORKSPACE: this.workspace,
      RUNNER_TEMP: this.runnerTemp,
    };
  }

  /** Another use of the action in the same job (its own inputs and state, the same workspace and RUNNER_TEMP). */
  step(inputs: Record<string, string>): { main(): Promise<PhaseRun>; post(): Promise<PhaseRun> } {
    const state: Record<string, string> = {};
    const env = { ...this.env, ...Object.fromEntries(Object.entries(inputs).map(([n, v]) => [inputVariable(n), v])) };
    return { main: () => this.phase('main', state, env), post: () => this.phase('post', state, env) };
  }

  /**
   * The main step as @github/local-action runs an action: another program imports the bundle and calls its `run()`
   * (so `process.argv[1]` is not the bundle).
   */
  mainByImport(): Promise<PhaseRun> {
    const script = `const action = await import(${JSON.stringify(pathToFileURL(distFile('egress-sentinel')).href)}); await action.run();`;
    return this.phase('main', this.state, this.env, ['--input-type=module', '-e', script]);
  }

  private async phase(
    name: 'main' | 'post',
    state = this.state,
    env = this.env,
    program: string[] = [join(this.bundleDir, this.runs[name])],
  ): Promise<PhaseRun> {
    const files = {
      GITHUB_OUTPUT: join(this.dir, `${name}-output`),
      GITHUB_STEP_SUMMARY: join(this.dir, `${name}-summary`),
      GITHUB_STATE: join(this.dir, `${name}-state`),
    };
    for (const file of Object.values(files)) writeFileSync(file, '');
    const stateEnv = Object.fromEntries(Object.entries(state).map(([key, value]) => [`STATE_${key}`, value]));
    const asUser =
      this.user === undefined ? [] : ['setpriv', `--reuid=${this.user}`, `--regid=${this.user}`, '--clear-groups'];
    for (const file of Object.values(files)) if (this.user !== undefined) chmodSync(file, 0o666);
    const child = spawn('ip', ['netns', 'exec', this.namespace, ...asUser, node24, ...program], {
      env: { ...env, ...files, ...stateEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    // `close` waits for every holder of the step's pipes: the detached monitor must hold none, or this never ends.
    const exitCode = await new Promise<number>((resolve) =>
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
    );
    Object.assign(state, Object.fromEntries(parseFileCommands(readFileSync(files.GITHUB_STATE, 'utf8'))));
    return {
      exitCode,
      log,
      outputs: Object.fromEntries(parseFileCommands(readFileSync(files.GITHUB_OUTPUT, 'utf8'))),
      summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
    };
  }

  main(): Promise<PhaseRun> {
    return this.phase('main');
  }

  /** The main step, which must succeed (its log is the error when it does not). */
  async start(): Promise<PhaseRun> {
    const run = await this.phase('main');
    if (run.exitCode !== 0) throw new Error(`the main step failed (exit code ${run.exitCode}):\n${run.log}`);
    return run;
  }

  post(): Promise<PhaseRun> {
    return this.phase('post');
  }

  /** The monitor's pid, as main saved it. */
  monitorPid(): number {
    return this.saved().pid ?? 0;
  }

  /** The stop secret main saved for post (as the runner keeps it: no later step can read it). */
  secret(): string {
    return this.state['egress-sentinel-secret'] ?? '';
  }

  /** The sentinel's state as main saved it for post. */
  saved(): SavedState {
    return JSON.parse(this.state['egress-sentinel'] ?? '{}') as SavedState;
  }

  report(path = join(this.workspace, 'artifacts/egress-violations.json')): {
    version: number;
    method: string;
    allowed: { entry: string; addresses?: string[]; by?: 'sentinel' }[];
    violations: Record<string, unknown>[];
    tampered: boolean;
    tampering: string[];
    gaps: { from: string; to: string; reason: string }[];
    complete: boolean;
    incomplete: { from: string; to: string; reason: string }[];
    'pre-existing': Record<string, unknown>[];
    scope: string;
    'outside-job'?: Record<string, unknown>[];
    'sudo-disabled': boolean;
    'containers-disabled': string[];
    checkpoint?: string;
    checkpoints: string[];
    'after-stop'?: Record<string, unknown>[];
  } {
    // The report document (deploy-gates report v1); the sentinel's own report is its details.
    return JSON.parse(readFileSync(path, 'utf8')).details;
  }

  /** Ends a monitor a test left running (a stop step does not stop it): the post step, as the runner would run it. */
  async finish(): Promise<void> {
    const pid = this.monitorPid();
    if (!pid || !this.secret() || !isRunning(pid)) return;
    await this.post();
  }

  cleanup(): void {
    const pid = this.monitorPid();
    if (pid) {
      try {
        // The monitor leads its own process group: its conntrack listener and watchers go with it.
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // A root monitor started through sudo writes into a directory of its own under /run.
    const snapshot = this.saved().snapshotPath;
    if (snapshot && !snapshot.startsWith(this.dir)) rmSync(dirname(snapshot), { recursive: true, force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
