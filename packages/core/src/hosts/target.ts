/**
 * Where a release directory lives and where commands run: this machine (LocalTarget) or a host
 * reached with the OpenSSH client (SshTarget). Everything that looks at or changes a release goes through
 * `run`, as a POSIX shell script, so both targets behave the same and the same tests cover both.
 */
export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** True when the command was killed because it ran past its timeout. */
  timedOut: boolean;
  /** True when the command was stopped because RunOptions.signal aborted (a cancelled job). */
  cancelled?: boolean;
  durationMs: number;
}

export interface RunOptions {
  /** Working directory on the target. */
  cwd?: string;
  timeoutMs?: number;
  /**
   * Written to the command's standard input (how secrets reach a remote command without appearing in argv). A stream
   * is piped and its end closes stdin, so a command can run for as long as the caller keeps the stream open (and
   * sees end of file when this process dies): that is how the deploy lock holds `flock` on a host.
   */
  stdin?: string | NodeJS.ReadableStream;
  /** Called with standard output as it arrives, for a command whose result matters before it ends. */
  onStdout?: (chunk: string) => void;
  /**
   * A file streamed to the command's standard input instead of `stdin` (how a bundle reaches a host over the same
   * connection, in constant memory). A file that cannot be read fails the run (the promise rejects).
   */
  stdinFile?: string;
  /**
   * Keep only the last this many bytes of stdout and of stderr in memory (a hook's output is logged by its tail);
   * default: all of it (scripts whose output is parsed).
   */
  outputTailBytes?: number;
  /**
   * Stops the command when aborted: its whole process group on this machine, and over SSH the remote command's
   * process group on the host too (not just the local client). The result then has `cancelled: true`.
   */
  signal?: AbortSignal;
  /**
   * A script of deploy-gates' own that may run in the target's open session, when it has one and it is free (over
   * SSH one round trip, no new session): it ends when its shell ends (no background child keeping its output open)
   * and, with a stream as stdin, stops reading by itself (it may never see the stream's end: the session's stdin
   * stays open). Ignored with signal, timeoutMs, outputTailBytes, stdinFile or a string stdin. Never for a user's command.
   */
  reuse?: boolean;
  /**
   * With `reuse`: while the open session has not run anything yet, send this script as the command of a session of
   * its own over the same connection, and ready the open session meanwhile. sshd opens a session's input window
   * only once its command started, so a script on a fresh session's stdin leaves one round trip later than a command
   * (the lock's script, the first of a step, is the one that pays it otherwise).
   */
  asCommand?: boolean;
}

export interface Target {
  /** `local` or `ssh://user@host:port`; safe to log. */
  readonly description: string;
  /** Runs a POSIX shell script on the target. Never throws for a non-zero exit; throws only if it cannot run at all. */
  run(script: string, options?: RunOptions): Promise<CommandResult>;
  /** Releases what the target holds (key files, connections). */
  close(): Promise<void>;
}

/**
 * Quotes one word for a POSIX shell: `'…'` with embedded quotes as `'\''`.
 * Every path or argument put into a script must pass through here.
 */
export function shellQuote(word: string): string {
  if (word === '') return "''";
  if (/^[A-Za-z0-9_/.,:=@%+-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Quotes a path for a POSIX shell like shellQuote, except that a leading `~` or `~/` means the target user's home
 * (`"$HOME"`), as it does in a login shell, so `releases-root: ~/app` works over SSH. Nothing else is expanded.
 */
export function shellPath(path: string): string {
  if (!isHomePath(path)) return shellQuote(path);
  if (path === '~') return '"$HOME"';
  return path.length === 2 ? '"$HOME"/' : `"$HOME"/${shellQuote(path.slice(2))}`;
}

/** `~` or `~/…`: a path in the target user's home. */
export function isHomePath(path: string): boolean {
  return path === '~' || path.startsWith('~/');
}

/** The fields a script printed as NUL-terminated values (`printf '%s\\0'`), without the empty one after the last. */
export function nulFields(stdout: string): string[] {
  const parts = stdout.split('\0');
  if (parts.at(-1) === '') parts.pop();
  return parts;
}

/** A Target that counts the scripts run through it: each is one round trip to a remote host. */
export function countingTarget(target: Target): { target: Target; roundTrips: () => number } {
  let count = 0;
  return {
    target: {
      description: target.description,
      run: (script, options) => (count++, target.run(script, options)),
      close: () => target.close(),
    },
    roundTrips: () => count,
  };
}
