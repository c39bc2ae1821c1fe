import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { shellQuote, type CommandResult } from './target.js';
import { StreamedText } from './streamed-text.js';

/**
 * One shell session on the host, opened with the login and kept open for the step: `ssh host sh -c <loop>`, whose
 * loop reads framed scripts from its stdin and answers each one's stdout, exit code and stderr, framed. A script sent
 * through it costs one round trip and one fork on the host; a new session (even through a ControlMaster connection)
 * costs an ssh client start, a channel open and an exec request besides (about 2 round trips more).
 *
 * Frame on stdin: a line `@@dg-begin-<mark>`, the script's lines, then `@@dg-run-<mark>` (stdin /dev/null) or
 * `@@dg-input-<mark>` (the script reads the session's stdin: see SessionRun.input). Lines outside a frame are
 * ignored, so input a script left unread (its writer raced its end) never runs. Answer on stdout: the script's
 * stdout, then `\0<mark>\0<exit>\0<stderr>\0<mark>-end\0`. `<mark>` is random per session; the host's data never
 * knows it.
 */
export interface SessionRun {
  script: string;
  cwd?: string;
  /**
   * A stream fed to the script's stdin, which is the session's own: the script must stop reading by itself (it never
   * sees the stream's end); what is written after the script ended is dropped.
   */
  input?: NodeJS.ReadableStream;
  onStdout?: (chunk: string) => void;
}

/** The loop the session runs on the host (POSIX sh). Each script runs in its own `sh -c` (`$$` is its own pid). */
function loopScript(mark: string, ready: string): string {
  return [
    'exec 3>&1',
    `printf '%s\\0' ${ready}`,
    'while :; do',
    '  dg_s=; dg_in=; dg_go=',
    '  while IFS= read -r dg_l; do',
    '    case $dg_l in',
    `      @@dg-begin-${mark}) dg_in=1; dg_s= ;;`,
    `      @@dg-run-${mark}|@@dg-input-${mark}) if [ -n "$dg_in" ]; then dg_go=$dg_l; break; fi ;;`,
    '      *) if [ -n "$dg_in" ]; then dg_s="$dg_s$dg_l',
    '"; fi ;;',
    '    esac',
    '  done',
    '  [ -n "$dg_go" ] || exit 0',
    `  if [ "$dg_go" = @@dg-input-${mark} ]; then dg_e=$( { sh -c "$dg_s" 3>&-; } 2>&1 1>&3 ); dg_c=$?`,
    `  else dg_e=$( { sh -c "$dg_s" </dev/null 3>&-; } 2>&1 1>&3 ); dg_c=$?; fi`,
    `  printf '\\0%s\\0%s\\0%s\\0%s-end\\0' ${mark} "$dg_c" "$dg_e" ${mark}`,
    'done',
  ].join('\n');
}

interface Pending {
  resolve: (result: CommandResult) => void;
  onStdout?: (chunk: string) => void;
  /** How much of the script's stdout was passed to onStdout. */
  delivered: number;
  started: number;
  stopInput: () => void;
}

/**
 * How many bytes at the end of `text` to hold back from onStdout because they may begin the answer's marker: a tail
 * of two or more of its bytes. A lone trailing NUL is passed on (a script's output may end with one, and whoever waits
 * for it must get it); in the rare case the marker was split right after it, onStdout saw one NUL too many.
 */
function heldBack(text: StreamedText, marker: string): number {
  for (let length = Math.min(marker.length - 1, text.length); length >= 2; length--)
    if (text.endsWith(marker.slice(0, length))) return length;
  return 0;
}

export class OpenSession {
  private readonly mark = randomBytes(8).toString('hex');
  private readonly ready = `dg-session-ready-${randomBytes(8).toString('hex')}`;
  private readonly child: ChildProcess;
  /** What the loop printed since the last answer (searched as it streams, see StreamedText). */
  private buffer = new StreamedText();
  /** The loop printed its ready marker (what came before it is not an answer). */
  private started = false;
  private stderr = '';
  private pending: Pending | undefined;
  private exited: { code: number | null } | undefined;
  /** Resolves once the host authenticated us (or the loop answered), rejects with ssh's stderr if it ends first. */
  readonly opened: Promise<void>;

  /** `args` are ssh's options and the host; the loop is added as the remote command. */
  constructor(args: readonly string[], env: NodeJS.ProcessEnv) {
    this.child = spawn('ssh', [...args, `sh -c ${shellQuote(loopScript(this.mark, this.ready))}`], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C or SIGINT to the runner's group must not end the session a cancelled step
      // still needs (to roll back through the lock holder); if this process dies, its stdin ends and so does the session.
      detached: true,
    });
    this.child.stdin!.on('error', () => {});
    let onOpen: () => void = () => {};
    let onFail: (code: number | null) => void = () => {};
    this.opened = new Promise<void>((resolve, reject) => {
      onOpen = resolve;
      onFail = (code) => reject(Object.assign(new Error(this.stderr), { exitCode: code ?? 255 }));
    });
    this.opened.catch(() => {});
    const decoder = new StringDecoder('utf8');
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.buffer.push(decoder.write(chunk));
      if (!this.started) {
        // The loop's ready marker comes before any answer; it is nobody's output.
        const at = this.buffer.indexOf(`${this.ready}\0`);
        if (at < 0) return;
        this.started = true;
        this.buffer = new StreamedText(this.buffer.slice(at + this.ready.length + 1));
        onOpen();
      }
      this.answer();
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-8192);
      // LogLevel=VERBOSE: the login is done; the first script may be written at once (it is read once the loop runs).
      if (/^Authenticated to |^Authentication succeeded/m.test(this.stderr)) onOpen();
    });
    this.child.on('error', () => onFail(255));
    this.child.on('close', (code) => {
      this.exited = { code };
      onFail(code);
      this.pending?.resolve(this.lost());
      this.pending = undefined;
    });
  }

  /** Whether a script was sent through it (its input window is open once the first one ran). */
  used = false;

  /** Runs a no-op through the session if nothing ran yet, so its input window opens (in the background). */
  openWindow(): void {
    if (this.free && !this.used) void this.run({ script: ':' });
  }

  /** True while the session is open and no script runs in it. */
  get free(): boolean {
    return this.exited === undefined && this.pending === undefined;
  }

  /** Runs one script in the session (free must be true); resolves when its answer arrived. */
  run({ script, cwd, input, onStdout }: SessionRun): Promise<CommandResult> {
    if (!this.free) throw new Error('the open ssh session is busy or closed');
    this.used = true;
    const body = cwd === undefined ? script : `cd -- ${shellQuote(cwd)} || exit 1\n${script}`;
    // Whatever arrived since the last answer (a background child of an earlier script) is not this script's output.
    if (this.started) this.buffer = new StreamedText();
    return new Promise<CommandResult>((resolve) => {
      const forward = (chunk: string | Buffer) => {
        if (this.pending?.resolve === resolve) this.child.stdin!.write(chunk);
      };
      this.pending = {
        resolve,
        onStdout,
        delivered: 0,
        started: performance.now(),
        stopInput: () => input?.removeListener('data', forward),
      };
      // The leading newline ends a line some earlier input left half written, so the begin line is seen as such.
      this.child.stdin!.write(`\n@@dg-begin-${this.mark}\n${body}\n@@dg-${input ? 'input' : 'run'}-${this.mark}\n`);
      input?.on('data', forward);
    });
  }

  /** Reads the pending script's answer from the buffer, passing its stdout on as it arrives. */
  private answer(): void {
    const pending = this.pending;
    if (!pending) return;
    const begin = `\0${this.mark}\0`;
    const end = `\0${this.mark}-end\0`;
    const at = this.buffer.indexOf(begin);
    if (pending.onStdout) {
      const upTo = at >= 0 ? at : this.buffer.length - heldBack(this.buffer, begin);
      if (upTo > pending.delivered) pending.onStdout(this.buffer.slice(pending.delivered, upTo));
      pending.delivered = Math.max(pending.delivered, upTo);
    }
    if (at < 0) return;
    const stop = this.buffer.indexOf(end, at + begin.length);
    if (stop < 0) return;
    const [code = '', ...stderr] = this.buffer.slice(at + begin.length, stop).split('\0');
    const stdout = this.buffer.slice(0, at);
    this.buffer = new StreamedText(this.buffer.slice(stop + end.length));
    this.pending = undefined;
    pending.stopInput();
    pending.resolve({
      exitCode: /^\d+$/.test(code) ? Number(code) : 1,
      stdout,
      stderr: stderr.join(''),
      timedOut: false,
      durationMs: performance.now() - pending.started,
    });
  }

  /** The result of a script whose session ended before it answered (the connection was lost). */
  private lost(): CommandResult {
    return {
      exitCode: 255,
      stdout: '',
      stderr: this.stderr.trim() || 'the ssh session ended before the script answered',
      timedOut: false,
      durationMs: performance.now() - (this.pending?.started ?? performance.now()),
    };
  }

  /** Ends the session: the loop sees end of input and exits; the ssh client is stopped after at most `graceMs`. */
  async close(graceMs = 0): Promise<void> {
    if (this.exited) return;
    const closed = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    await closed;
    clearTimeout(timer);
  }

  /** Stops the ssh client now (synchronous; for a process that is exiting). */
  kill(): void {
    if (!this.exited) this.child.kill('SIGTERM');
  }
}
