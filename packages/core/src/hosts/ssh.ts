import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onProcessEnd } from '../cancel.js';
import { UserError } from '../errors.js';
import { runProcess } from './local.js';
import { OpenSession } from './session.js';
import { shellQuote, type CommandResult, type RunOptions, type Target } from './target.js';

export interface SshTargetSpec {
  user: string;
  host: string;
  port: number;
  /** The private key (OpenSSH or PEM text). Written to a 0600 file in a private temp dir, removed on close(). */
  privateKey: string;
  /** Pinned host key line(s) in known_hosts format, e.g. `[host]:2222 ssh-ed25519 AAAA…`. */
  knownHosts: string;
}

/**
 * Each open target registers a synchronous cleanup with core/cancel: a cancelled job (the runner sends SIGINT, then
 * SIGTERM) or a process.exit() skips close(); that cleanup still stops the master connection and removes the key.
 */

/** ControlPath must fit a unix socket address (108 bytes on Linux, 104 elsewhere); leave room for ssh's suffix. */
const MAX_CONTROL_PATH = 90;

/**
 * Runs scripts on a host with the OpenSSH client (`ssh`), checking the host key strictly against the pinned
 * `known-hosts` line and nothing else (no user config, no global known_hosts, no agent, no password prompts).
 * open() logs in once and keeps one shell session open (session.ts): deploy-gates' own short scripts
 * (RunOptions.reuse) go through it, one round trip each. That client is also the master connection (ControlMaster)
 * for every other command — hooks, a script while the session is busy — each a new session over the same login.
 * close() stops it and removes the key, known_hosts file and socket.
 */
export class SshTarget implements Target {
  readonly description: string;
  private closed = false;
  private forget: () => void = () => {};
  private session: OpenSession | undefined;

  private constructor(
    private readonly spec: SshTargetSpec,
    private readonly dir: string,
    private readonly multiplex: boolean,
  ) {
    this.description = `ssh://${spec.user}@${spec.host}:${spec.port}`;
  }

  /** Writes the key files and connects once, so a wrong host key or key fails here with a clear message. */
  static async open(spec: SshTargetSpec, tempDir?: string): Promise<SshTarget> {
    const base = tempDir || process.env.RUNNER_TEMP || tmpdir();
    const dir = await mkdtemp(join(base, 'dg-ssh-'));
    let forget = onProcessEnd(() => rmSync(dir, { recursive: true, force: true }));
    try {
      const key = spec.privateKey.replace(/\r\n/g, '\n');
      await writeFile(join(dir, 'id'), key.endsWith('\n') ? key : `${key}\n`, { mode: 0o600, flag: 'wx' });
      const hosts = spec.knownHosts.replace(/\r\n/g, '\n').trim();
      await writeFile(join(dir, 'known_hosts'), `${hosts}\n`, { mode: 0o600, flag: 'wx' });
      const target = new SshTarget(spec, dir, join(dir, 'cm').length <= MAX_CONTROL_PATH);
      forget();
      forget = target.forget = onProcessEnd(() => target.closeNow());
      await target.check();
      return target;
    } catch (error) {
      forget();
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Where the private key file is while the target is open (tests check its mode and removal). */
  get keyFile(): string {
    return join(this.dir, 'id');
  }

  /** The client's options; `primary`: the session that is the master connection (else a client of it). */
  private options(primary = false): string[] {
    const options = [
      '-F',
      '/dev/null',
      '-T',
      '-o',
      'BatchMode=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'IdentityAgent=none',
      '-o',
      `IdentityFile=${join(this.dir, 'id')}`,
      '-o',
      `UserKnownHostsFile=${join(this.dir, 'known_hosts')}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'UpdateHostKeys=no',
      '-o',
      'CheckHostIP=no',
      '-o',
      'PasswordAuthentication=no',
      '-o',
      'KbdInteractiveAuthentication=no',
      '-o',
      'ConnectTimeout=20',
      '-o',
      'ServerAliveInterval=15',
      '-o',
      'ServerAliveCountMax=4',
      '-o',
      // The primary client logs its login (`Authenticated to …`) so open() returns as soon as the host accepted us.
      primary ? 'LogLevel=VERBOSE' : 'LogLevel=ERROR',
      '-p',
      String(this.spec.port),
      '-l',
      this.spec.user,
    ];
    // A client that finds no master socket (the session ended) connects by itself rather than becoming one.
    if (this.multiplex)
      options.push('-o', `ControlMaster=${primary ? 'yes' : 'no'}`, '-o', `ControlPath=${join(this.dir, 'cm')}`);
    return options;
  }

  /**
   * Logs in and opens the session (its loop is started with the login; open() does not wait for that round trip):
   * a wrong host key, a rejected key or an unreachable port fails here with what to fix.
   */
  private async check(): Promise<void> {
    const env = { ...process.env, SSH_AUTH_SOCK: '', LC_ALL: 'C' };
    this.session = new OpenSession([...this.options(true), '--', this.spec.host], env);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.session.opened,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { exitCode: 255 })), 60_000);
        }),
      ]);
    } catch (error) {
      this.session.kill();
      const { message, exitCode } = error as Error & { exitCode: number };
      const problem = exitCode === 255 ? connectionProblem(message, this.spec) : undefined;
      if (problem) throw new UserError(`Cannot connect to ${this.description}: ${problem}`);
      // The client logs verbosely until the login is done: its last lines say what went wrong.
      const detail = message.trim().split('\n').slice(-3).join(' ');
      throw new UserError(
        `Cannot connect to ${this.description}: ssh exited with ${exitCode} (${detail || 'no output'})`,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  async run(script: string, options: RunOptions = {}): Promise<CommandResult> {
    if (this.closed) throw new Error(`${this.description} is closed`);
    const session = this.session;
    const plain = !options.signal && options.timeoutMs === undefined && options.outputTailBytes === undefined;
    const input = options.stdin === undefined || typeof options.stdin === 'object';
    const fresh = session !== undefined && !session.used && this.multiplex;
    const first = options.reuse && options.asCommand && fresh && plain && input && options.stdinFile === undefined;
    if (first && (await this.controlReady())) {
      session.openWindow();
      return this.connected(await this.runInNewSession(script, { ...options, reuse: undefined }));
    }
    if (options.reuse && session?.free && plain && input && options.stdinFile === undefined) {
      const stdin = options.stdin as NodeJS.ReadableStream | undefined;
      const result = await session.run({ script, cwd: options.cwd, input: stdin, onStdout: options.onStdout });
      return this.connected(result);
    }
    return this.connected(await this.runInNewSession(script, options));
  }

  /**
   * Whether the master's control socket is there. ssh makes it just after the login open() waited for, so on a busy
   * machine the first script may come before it: wait briefly rather than fall back to the open session's slower
   * first round trip.
   */
  private async controlReady(): Promise<boolean> {
    const path = join(this.dir, 'cm');
    for (let waited = 0; !existsSync(path); waited += 5) {
      if (waited >= 1_000) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return true;
  }

  /** The result, unless the connection failed in a way the user must fix (a UserError naming it). */
  private connected(result: CommandResult): CommandResult {
    if (result.exitCode === 255 && !result.timedOut) {
      const problem = connectionProblem(result.stderr, this.spec);
      if (problem) throw new UserError(`Cannot connect to ${this.description}: ${problem}`);
    }
    return result;
  }

  /** Runs a script in a session of its own (through the master connection): hooks, and scripts while it is busy. */
  private async runInNewSession(script: string, options: RunOptions): Promise<CommandResult> {
    // The remote user's shell gets one command line; every part of it is quoted here.
    // The exit of the remote shell is reported on stderr: sshd keeps the session open while a background child of
    // the script (`nohup worker &`) holds its output, so the client's own exit cannot tell when the script ended.
    const marker = `@@dg-exit-${randomBytes(8).toString('hex')}`;
    const reported = `sh -c ${shellQuote(script)}; s=$?; printf '\\n${marker} %d\\n' "$s" >&2; exit "$s"`;
    // deploy-gates' own script sent as a command (asCommand) starts no background child: its shell's end is its exit.
    const own = options.asCommand === true && options.reuse === undefined;
    let remote = own ? `sh -c ${shellQuote(script)}` : `sh -c ${shellQuote(reported)}`;
    if (options.timeoutMs !== undefined) {
      // Killing the local ssh client does not stop the remote command, so the host enforces the timeout too.
      const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
      remote = `if command -v timeout >/dev/null 2>&1; then exec timeout -s KILL ${seconds} ${remote}; else exec ${remote}; fi`;
    }
    if (options.cwd !== undefined) remote = `cd ${shellQuote(options.cwd)} && ${remote}`;
    // A stoppable command records the pid of the remote shell, which sshd made a session (and process group) leader;
    // `exec` keeps that pid for sh or timeout, so killing the group stops the whole remote command.
    const pidFile = options.signal ? `"\${TMPDIR:-/tmp}"/dg-run-${randomBytes(6).toString('hex')}.pid` : undefined;
    if (pidFile) remote = `echo $$ > ${pidFile} && ${remote}`;
    const env = { ...process.env, SSH_AUTH_SOCK: '', LC_ALL: 'C' };
    if (options.signal?.aborted)
      return {
        exitCode: 130,
        stdout: '',
        stderr: 'not started: cancelled',
        timedOut: false,
        cancelled: true,
        durationMs: 0,
      };
    // Killing the local client would leave the remote command running (and its pipes are held by the master
    // connection): on abort, stop the remote process group first (TERM, KILL after 2 s); the client then ends by
    // itself, or is killed 3 s later.
    const local = new AbortController();
    let cancelled = false;
    let stopping: Promise<unknown> | undefined;
    const onAbort = () => {
      cancelled = true;
      const stop = [
        `i=0; while [ ! -s ${pidFile} ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done`,
        `p=$(cat ${pidFile} 2>/dev/null) && [ -n "$p" ] && {`,
        // The remote shell leads its session; `timeout` inside a script puts its command in a process group of its
        // own, so the session is stopped as a whole (pkill -s) where the host has pkill, and the group anyway.
        '  alive() { kill -0 -- -"$p" 2>/dev/null || { command -v pgrep >/dev/null && pgrep -s "$p" >/dev/null; }; }',
        '  stop() { kill -"$1" -- -"$p" 2>/dev/null; kill -"$1" "$p" 2>/dev/null; command -v pkill >/dev/null && pkill -"$1" -s "$p"; }',
        '  stop TERM',
        '  i=0; while alive && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done',
        '  stop KILL',
        '}',
        `rm -f ${pidFile}`,
      ].join('\n');
      stopping = runProcess('ssh', [...this.options(), '--', this.spec.host, stop], { timeoutMs: 10_000, env }).finally(
        () => {
          setTimeout(() => local.abort(), 3000).unref();
        },
      );
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let result: CommandResult;
    try {
      result = await runProcess('ssh', [...this.options(), '--', this.spec.host, remote], {
        stdin: options.stdin,
        onStdout: options.onStdout,
        stdinFile: options.stdinFile,
        timeoutMs: options.timeoutMs,
        outputTailBytes: options.outputTailBytes,
        exitMarker: own ? undefined : marker,
        signal: pidFile ? local.signal : undefined,
        env,
      });
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    await stopping?.catch(() => {});
    if (pidFile && !cancelled && !this.closed)
      await runProcess('ssh', [...this.options(), '--', this.spec.host, `rm -f ${pidFile}`], {
        timeoutMs: 10_000,
        env,
      });
    if (cancelled) result = { ...result, cancelled: true };
    return result;
  }

  /**
   * Stops the master connection and removes the key directory. Synchronous, bounded and never throwing, so the
   * same cleanup serves close() and a process that is exiting on a signal.
   */
  private closeNow(): void {
    this.forget();
    this.closed = true;
    // The session's client is the master connection: stopping it ends every session over it.
    this.session?.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.session?.close();
    this.closeNow();
  }
}

/** True when one host field of a known_hosts line (`a,b`, or hashed `|1|salt|hash`) names exactly `name`. */
function namesHost(field: string, name: string): boolean {
  const hashed = /^\|1\|([^|]+)\|([^|]+)$/.exec(field);
  if (hashed) return createHmac('sha1', Buffer.from(hashed[1]!, 'base64')).update(name).digest('base64') === hashed[2];
  return field.split(',').includes(name);
}

/** Whether known-hosts has a line for the bare host name (no `[host]:port`), which ssh also tries for another port. */
function hasBareHostLine(knownHosts: string, host: string): boolean {
  return knownHosts
    .split(/\r?\n/)
    .map((line) => line.trim().split(/\s+/))
    .some(
      (fields) =>
        fields[0] !== undefined &&
        !fields[0].startsWith('#') &&
        !fields[0].startsWith('@') &&
        fields.length >= 3 &&
        namesHost(fields[0], host),
    );
}

/** Turns the OpenSSH client's connection failures (exit 255) into what to fix; undefined for anything else. */
export function connectionProblem(
  stderr: string,
  spec: { host: string; port: number; user: string; knownHosts?: string },
): string | undefined {
  const where = spec.port === 22 ? spec.host : `[${spec.host}]:${spec.port}`;
  const keyscan = `ssh-keyscan -p ${spec.port} ${spec.host}`;
  if (
    /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|host key .*(?:mismatch|differs)|No \S+ host key is known/i.test(
      stderr,
    )
  ) {
    const missing = /No \S+ host key is known/i.test(stderr) && !/HAS CHANGED/i.test(stderr);
    if (missing && spec.port !== 22 && spec.knownHosts !== undefined && hasBareHostLine(spec.knownHosts, spec.host)) {
      // ssh falls back to a line for the bare host name when none names [host]:port; here that key did not match.
      return `the known-hosts line for ${spec.host} (written without the port) does not match the server's host key on port ${spec.port}; re-check with \`${keyscan}\` (compare the fingerprint out of band) and pass that line, which names the host as ${where}`;
    }
    return missing
      ? `the known-hosts input has no key for ${where} of the type the server offers (write the host as ${where}); re-check with \`${keyscan}\` and pass that line`
      : `the known-hosts entry for ${where} does not match the server's host key; re-check with \`${keyscan}\` (compare the fingerprint out of band) and update known-hosts`;
  }
  if (/Permission denied \(/i.test(stderr) || /Too many authentication failures/i.test(stderr)) {
    return `authentication as "${spec.user}" failed; check that the ssh-key input holds the private key whose public key is in ~${spec.user}/.ssh/authorized_keys on ${spec.host}`;
  }
  if (/Load key .*: (?:invalid format|error in libcrypto)|invalid format/i.test(stderr)) {
    return 'the ssh-key input is not a readable private key; pass the whole key file (BEGIN … END lines included) from a secret, without a passphrase';
  }
  if (/Connection refused/i.test(stderr))
    return `nothing accepts connections on ${spec.host} port ${spec.port}; check the host, port and that sshd runs`;
  if (/Could not resolve hostname/i.test(stderr))
    return `the host name "${spec.host}" does not resolve; check the target input`;
  if (/timed out|No route to host|Network is unreachable/i.test(stderr))
    return `${spec.host} port ${spec.port} is not reachable (${firstLine(stderr)}); check the host, port and firewall`;
  if (/kex_exchange_identification|Connection closed by|Connection reset/i.test(stderr)) {
    return `the server closed the connection before login (${firstLine(stderr)}); check that ${spec.host}:${spec.port} is an SSH server that allows this runner`;
  }
  return undefined;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}
