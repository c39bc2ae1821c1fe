import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { normalizeAddress } from './allow.js';
import { parseConntrackLine, type ConnectionEvent } from './conntrack.js';
import type { MonitorConfig } from './monitor-config.js';
import type { PreExisting } from './snapshot.js';
import { runCommand } from './privilege.js';
import { Probes } from './probe.js';
import { processOf } from './procnet.js';
import type { Recorder } from './recorder.js';

/** A heartbeat probe this often; one not seen within STALL_MS means the events stood still. */
export const HEARTBEAT_MS = 1_000;
const STALL_MS = 3_000;
/** The listener's netlink receive buffer: large, so that a burst of connections does not overflow it. */
const BUFFER_BYTES = 16 * 1024 * 1024;

const flowOf = (event: ConnectionEvent) =>
  `${event.protocol} ${event.source}:${event.sourcePort} ${event.natFrom ?? `${event.destination}:${event.port}`}`;

/** `conntrack -E` for new connections, with timestamps and both tuples, on a large netlink receive buffer. */
export function spawnConntrack(prefix: readonly string[], bufferBytes = BUFFER_BYTES): ChildProcess {
  const args = ['conntrack', '-E', '-e', 'NEW', '-o', 'timestamp,extended', '-b', String(bufferBytes)];
  const [command, ...rest] = [...prefix, ...args];
  return spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Every flow in the connection table now (`conntrack -L`, IPv4 and IPv6, original and reply tuples). */
export async function dumpTable(config: MonitorConfig): Promise<ConnectionEvent[]> {
  const now = Date.now();
  const lists = await Promise.all(
    ['ipv4', 'ipv6'].map((family) => runCommand(config.privilege, 'conntrack', ['-L', '-f', family, '-o', 'extended'])),
  );
  return lists.flatMap((result) =>
    result.stdout.split('\n').flatMap((line) => parseConntrackLine(line, now, true) ?? []),
  );
}

/**
 * The conntrack listener: every NEW event is recorded; the monitor's own probes (see Probes) tell it is ready and,
 * once a second, that events still flow (a probe seen late, or not at all, is a gap: the listener was stopped or
 * held up). When the kernel drops events (ENOBUFS), the whole table is read at once, so that only flows that
 * already ended in between can be missing, and the report says when.
 */
export class Listener {
  private child?: ChildProcess;
  private ready?: () => void;
  /** While draining: the port of the last probe, whose event means every earlier one has been read. */
  private drainPort?: number;
  private stallSince?: number;
  private lastSeen = Date.now();
  private draining: Promise<void> = Promise.resolve();
  /** A table dump under way (after lost events): the stop waits for it. */
  private dumping: Promise<void> = Promise.resolve();
  stopping = false;

  /** `probes`: the monitor's, which may have sent one before its config arrived (its event then waits in the pipe). */
  constructor(
    private readonly config: MonitorConfig,
    private readonly recorder: Recorder,
    readonly probes = new Probes(),
  ) {}

  /**
   * Starts `conntrack -E` (or takes over the one the monitor started before its config arrived: its events since
   * wait in the pipe) and resolves once it reports a probe (or rejects when it cannot).
   */
  async start(prestarted?: ChildProcess): Promise<void> {
    const child = prestarted ?? spawnConntrack(this.config.privilege.prefix, this.config.bufferBytes);
    this.child = child;
    const ready = new Promise<void>((resolve) => (this.ready = resolve));
    let stderr = '';
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (/ENOBUFS/.test(line))
        return void (this.dumping = this.dumping
          .then(() => this.eventsLost())
          .catch((error: Error) =>
            this.recorder.error(`reading the table after lost events failed: ${error.message}`),
          ));
      stderr = `${stderr}\n${line}`.slice(-2000);
    });
    const ended = new Promise<string>((resolve) => {
      const why = (code: number | null, signal: string | null) =>
        `the conntrack listener ended (${signal ?? `exit code ${code}`}${stderr.trim() ? `: ${stderr.trim()}` : ''})`;
      child.on('error', (error) => resolve(`conntrack could not be started: ${error.message}`));
      child.on('exit', (code, signal) => resolve(why(code, signal)));
      // A prestarted one that already ended: its exit was told before anyone listened.
      if (child.exitCode !== null || child.signalCode !== null) resolve(why(child.exitCode, child.signalCode));
    });
    void ended.then(
      (why) => !this.stopping && (this.recorder.error(`${why} while the job ran`), this.recorder.flush()),
    );
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    const timeout = new Promise<string>((resolve) =>
      setTimeout(
        () => resolve('conntrack reported no events within 10s (is connection tracking available here?)'),
        10_000,
      ).unref(),
    );
    // Probes until the first is seen: one sent before conntrack listens is never reported.
    const sending = setInterval(() => void this.probes.send(), 10);
    void this.probes.send();
    const problem = await Promise.race([ready.then(() => undefined), ended, timeout]);
    clearInterval(sending);
    if (problem) throw new Error(problem);
  }

  private onLine(line: string): void {
    const event = parseConntrackLine(line);
    if (!event) return;
    const sentAt = this.probes.take(event);
    if (sentAt === undefined) return this.recorder.record(event, () => ownerOfConnection(event), flowOf(event));
    const now = Date.now();
    const since = this.stallSince ?? (now - sentAt > STALL_MS ? sentAt : undefined);
    if (since !== undefined)
      this.recorder.window('gaps', {
        from: new Date(since).toISOString(),
        to: new Date(now).toISOString(),
        reason: 'no connection events arrived (the conntrack listener was stopped or held up)',
      });
    this.stallSince = undefined;
    this.lastSeen = now;
    if (this.drainPort === undefined || this.drainPort === event.sourcePort) this.ready?.();
  }

  /** Once a heartbeat: a probe, and a look at whether the last ones came through. */
  heartbeat(): void {
    const oldest = this.probes.oldest();
    if (oldest !== undefined && Date.now() - oldest > STALL_MS) this.stallSince ??= oldest;
    void this.probes.send();
  }

  private async eventsLost(): Promise<void> {
    const from = new Date(this.lastSeen).toISOString();
    for (const event of await dumpTable(this.config)) this.recorder.record(event, undefined, flowOf(event), true);
    this.recorder.window('incomplete', {
      from,
      to: new Date().toISOString(),
      reason:
        'the kernel dropped connection events (ENOBUFS); the connection table read right after lists every flow still tracked, but flows that had already ended in between may be missing',
    });
  }

  /**
   * The flows in the table that predate the sentinel: not told by an event since `readyAt` (when the sentinel became
   * ready; undefined: it is not yet, and every flow in the table predates it). A flow that predates the sentinel may
   * still be told by a NEW event while it starts: where nothing tracked connections before, the first tracking rule
   * makes the kernel track it at its next packet.
   */
  async preExisting(readyAt?: number): Promise<PreExisting[]> {
    const flows: PreExisting[] = [];
    const table = await dumpTable(this.config);
    // Every event of a flow in that table has been read once a probe sent now is: a job's flow is not taken for an
    // older one.
    await this.drain();
    for (const event of table) {
      const address = normalizeAddress(event.destination);
      if (this.recorder.isLocal(address)) continue;
      if (readyAt !== undefined && this.recorder.toldSince(flowOf(event), readyAt)) continue;
      if (event.destination === '127.0.0.1' && event.port === 9) continue;
      flows.push({ address, port: event.port, protocol: event.protocol, sourcePort: event.sourcePort });
    }
    return flows;
  }

  /**
   * Drains: a probe, and once its event is read, every event before it has been read too. Bounded by two
   * heartbeats (a listener held up is a gap of its own).
   */
  drain(): Promise<void> {
    // One at a time (a checkpoint and the table read may ask together): each waits for a probe sent after its ask.
    this.draining = this.draining.then(() => this.drainOnce());
    return this.draining;
  }

  private async drainOnce(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const drained = new Promise<void>((resolve) => (this.ready = resolve));
    this.drainPort = -1;
    await this.probes.send((port) => (this.drainPort = port));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, 2 * HEARTBEAT_MS)))]);
    clearTimeout(timer);
    this.drainPort = undefined;
  }

  /** Drains (see drain), then stops the listener. */
  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    await this.drain();
    this.stopping = true;
    this.probes.close();
    this.child.kill('SIGTERM');
    await this.dumping;
  }

  /** Whether the stall that is still open (no probe seen since) began, for the last snapshot. */
  openStall(): number | undefined {
    const oldest = this.probes.oldest();
    return this.stallSince ?? (oldest !== undefined && Date.now() - oldest > STALL_MS ? oldest : undefined);
  }
}

/**
 * The process of a connection that is still open (best effort: a short one is gone before it is looked up), asked of
 * the kernel by socket (`ss -p`, filtered in the kernel by the flow's local address and port: cheap, and without
 * blocking the monitor — reading /proc/net/* walks every socket of the machine's tables).
 */
function ownerOfConnection(event: ConnectionEvent): Promise<{ pid: number; process: string } | undefined> {
  if (event.protocol !== 'tcp' && event.protocol !== 'udp') return Promise.resolve(undefined);
  const source = event.family === 6 ? `[${event.source}]` : event.source;
  const args = ['-H', '-n', '-p', '-a', event.protocol === 'tcp' ? '-t' : '-u', 'src', `${source}:${event.sourcePort}`];
  return new Promise((resolve) =>
    execFile('ss', args, { timeout: 5_000 }, (error, stdout) => {
      const pid = error ? undefined : /\bpid=(\d+)/.exec(stdout)?.[1];
      resolve(pid ? processOf(Number(pid)) : undefined);
    }),
  );
}
