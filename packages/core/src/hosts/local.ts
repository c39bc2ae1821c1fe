import { spawn } from 'node:child_process';
import type { CommandResult, RunOptions, Target } from './target.js';

/** Runs scripts with /bin/sh on this machine: for a runner that is itself the deploy host. */
export class LocalTarget implements Target {
  readonly description = 'local';

  run(script: string, options: RunOptions = {}): Promise<CommandResult> {
    return runProcess('/bin/sh', ['-c', script], options);
  }

  async close(): Promise<void> {}
}

/** Spawns a process, feeds stdin, collects output, and kills its whole process group at the timeout. */
export function runProcess(command: string, args: readonly string[], options: RunOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              child.kill('SIGKILL');
            }
          }, options.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => {}); // a command that does not read stdin may close it early
    child.stdin.end(options.stdin ?? '');
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        exitCode: code ?? (signal ? 128 + 9 : 1),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        timedOut,
        durationMs: performance.now() - started,
      });
    });
  });
}
