import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { createReadStream } from 'node:fs';
import type { CommandResult, RunOptions, Target } from './target.js';

/** Runs scripts with /bin/sh on this machine: for a runner that is itself the deploy host. */
export class LocalTarget implements Target {
  readonly description = 'local';

  run(script: string, options: RunOptions = {}): Promise<CommandResult> {
    return runProcess('/bin/sh', ['-c', script], options);
  }

  async close(): Promise<void> {}
}

/** Spawns a process, feeds stdin, collects output, and kills its whole process group at the timeout or on abort. */
// eslint-disable-next-line max-lines-per-function -- TODO(issue 19): issue-17 owns how hooks run (process groups, bounded output)
export function runProcess(
  command: string,
  args: readonly string[],
  options: RunOptions & { env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  const started = performance.now();
  if (options.signal?.aborted) {
    return Promise.resolve({
      exitCode: 130,
      stdout: '',
      stderr: 'not started: cancelled',
      timedOut: false,
      cancelled: true,
      durationMs: 0,
    });
  }
  // eslint-disable-next-line max-lines-per-function -- TODO(issue 19): issue-17 owns how hooks run
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    let cancelled = false;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        child.kill(signal);
      }
    };
    let hardKill: NodeJS.Timeout | undefined;
    const onAbort = () => {
      cancelled = true;
      killGroup('SIGTERM');
      hardKill = setTimeout(() => killGroup('SIGKILL'), 2000);
      hardKill.unref();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            killGroup('SIGKILL');
          }, options.timeoutMs);
    const decoder = options.onStdout ? new StringDecoder('utf8') : undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      if (decoder) options.onStdout!(decoder.write(chunk));
    });
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => {}); // a command that does not read stdin may close it early
    let readError: Error | undefined;
    let source: ReturnType<typeof createReadStream> | undefined;
    if (options.stdinFile !== undefined) {
      source = createReadStream(options.stdinFile, { highWaterMark: 1024 * 1024 });
      source.on('error', (error) => {
        readError = error;
        child.stdin.destroy();
        killGroup('SIGKILL');
      });
      source.pipe(child.stdin);
      // A command that stops reading early (exits, closes stdin) leaves the file half read: close it with the command.
      child.on('close', () => source?.destroy());
    } else if (typeof options.stdin === 'object') options.stdin.pipe(child.stdin);
    else child.stdin.end(options.stdin ?? '');
    const settle = () => {
      clearTimeout(timer);
      clearTimeout(hardKill);
      options.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (error) => {
      settle();
      reject(error);
    });
    // A cancelled ssh client may have passed its pipes to the master connection, so they need not close: end at exit.
    child.on('exit', (code, signal) => {
      if (cancelled) setTimeout(() => child.emit('close', code, signal), 200).unref();
    });
    let done = false;
    child.on('close', (code, signal) => {
      if (done) return;
      done = true;
      settle();
      if (readError) return reject(readError);
      resolve({
        exitCode: code ?? (signal ? 128 + 9 : 1),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        timedOut,
        ...(cancelled ? { cancelled } : {}),
        durationMs: performance.now() - started,
      });
    });
  });
}
