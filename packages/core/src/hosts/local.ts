import { spawn, type ChildProcess } from 'node:child_process';
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

/**
 * After the command's own process exits, output still held open by its background children (`nohup worker &`) is
 * read for this long, then no longer waited for: a command's life ends with its shell, not with its daemons.
 */
export const EXIT_GRACE_MS = 500;

export interface ProcessOptions extends RunOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * A line on stderr that means "the remote command exited with <code>" (`<marker> <code>`), for an ssh client whose
   * session stays open while a remote background child holds its output: treated as the exit, and removed.
   */
  exitMarker?: string;
}

/** Output kept in memory: everything, or only the last `limit` bytes. */
class Output {
  private chunks: Buffer[] = [];
  private bytes = 0;
  constructor(private readonly limit = Infinity) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes > 2 * this.limit) {
      const all = Buffer.concat(this.chunks);
      this.chunks = [all.subarray(all.length - this.limit)];
      this.bytes = this.limit;
    }
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

const NOT_STARTED: CommandResult = {
  exitCode: 130,
  stdout: '',
  stderr: 'not started: cancelled',
  timedOut: false,
  cancelled: true,
  durationMs: 0,
};

/** Kills the process group of `child` (detached, so its own group), or the child alone when that fails. */
function groupKiller(child: ChildProcess) {
  return (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      child.kill(signal);
    }
  };
}

/** Feeds the child's stdin from a file, a stream or a string; a file that cannot be read is reported. */
function feedStdin(child: ChildProcess, options: RunOptions, onReadError: (error: Error) => void): void {
  child.stdin!.on('error', () => {}); // a command that does not read stdin may close it early
  if (options.stdinFile !== undefined) {
    const source = createReadStream(options.stdinFile, { highWaterMark: 1024 * 1024 });
    source.on('error', (error) => {
      child.stdin!.destroy();
      onReadError(error);
    });
    source.pipe(child.stdin!);
    // A command that stops reading early (exits, closes stdin) leaves the file half read: close it with the command.
    child.on('close', () => source.destroy());
  } else if (typeof options.stdin === 'object') options.stdin.pipe(child.stdin!);
  else child.stdin!.end(options.stdin ?? '');
}

/** Collects stdout and stderr; calls `onMarkedExit` when stderr reports the remote exit (ProcessOptions.exitMarker). */
function collect(
  child: ChildProcess,
  options: ProcessOptions,
  stdout: Output,
  stderr: Output,
  onMarkedExit: (code: number) => void,
): void {
  const decoder = options.onStdout ? new StringDecoder('utf8') : undefined;
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout.push(chunk);
    if (decoder) options.onStdout!(decoder.write(chunk));
  });
  let recent = '';
  let marked = false;
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr.push(chunk);
    if (options.exitMarker === undefined || marked) return;
    recent = (recent + chunk.toString('latin1')).slice(-512);
    const match = new RegExp(`${options.exitMarker} (\\d+)\n`).exec(recent);
    if (match) {
      marked = true;
      onMarkedExit(Number(match[1]));
    }
  });
}

/** Spawns a process, feeds stdin, collects output, and kills its whole process group at the timeout or on abort. */

export function runProcess(
  command: string,
  args: readonly string[],
  options: ProcessOptions = {},
): Promise<CommandResult> {
  const started = performance.now();
  if (options.signal?.aborted) return Promise.resolve({ ...NOT_STARTED });

  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout = new Output(options.outputTailBytes);
    const stderr = new Output(options.outputTailBytes);
    const state = { timedOut: false, cancelled: false, readError: undefined as Error | undefined, done: false };
    const killGroup = groupKiller(child);
    const timers: (NodeJS.Timeout | undefined)[] = [];
    const onAbort = () => {
      state.cancelled = true;
      killGroup('SIGTERM');
      timers.push(setTimeout(() => killGroup('SIGKILL'), 2000).unref());
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs !== undefined)
      timers.push(
        setTimeout(() => {
          state.timedOut = true;
          killGroup('SIGKILL');
        }, options.timeoutMs),
      );
    let markedExit: number | undefined;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (state.done) return;
      state.done = true;
      timers.forEach((timer) => clearTimeout(timer));
      options.signal?.removeEventListener('abort', onAbort);
      if (state.readError) return reject(state.readError);
      resolve({
        exitCode: markedExit ?? code ?? (signal ? 128 + 9 : 1),
        stdout: stdout.text(),
        stderr: withoutMarker(stderr.text(), options.exitMarker),
        timedOut: state.timedOut,
        ...(state.cancelled ? { cancelled: true } : {}),
        durationMs: performance.now() - started,
      });
    };
    // The command's own process ended: its output is read a little longer, then the pipes are let go.
    const exited = (code: number | null, signal: NodeJS.Signals | null) => {
      timers.push(
        setTimeout(
          () => {
            child.stdout!.destroy();
            child.stderr!.destroy();
            if (options.exitMarker !== undefined) killGroup('SIGKILL'); // the ssh client of a session held open
            finish(code, signal);
          },
          state.cancelled ? 200 : EXIT_GRACE_MS,
        ).unref(),
      );
    };
    collect(child, options, stdout, stderr, (code) => {
      markedExit = code;
      exited(code, null);
    });
    feedStdin(child, options, (error) => {
      state.readError = error;
      killGroup('SIGKILL');
    });
    child.on('error', (error) => {
      state.done = true;
      timers.forEach((timer) => clearTimeout(timer));
      reject(error);
    });
    child.on('exit', exited);
    child.on('close', finish);
  });
}

/** stderr without the exit marker line. */
function withoutMarker(text: string, marker: string | undefined): string {
  return marker === undefined ? text : text.replace(new RegExp(`\\n?${marker} \\d+\\n`), '');
}
