import { lookup } from 'node:dns/promises';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { normalizeAddress, type AllowEntry } from './allow.js';
import { startDnsForwarder } from './dns-monitor.js';
import { HEARTBEAT_MS, Listener, spawnConntrack } from './listener.js';
import { onPath } from './launch.js';
import { addElement, addElements, emptyElements, readAllowSets, readBlocked, removeRuleset } from './nft.js';
import type { MonitorConfig } from './monitor-config.js';
import { processOfInode, readSockets, tcpCounters, type ProcSocket } from './procnet.js';
import { destinationKey, Recorder } from './recorder.js';
import { stopToken, watchRequests, type Request } from './control.js';
import { readRules, type FinalRules } from './final.js';
import { lockDown, restore } from './lockdown.js';
import type { Snapshot } from './snapshot.js';
import { spawnWatchers, startWatchers, type WatcherProcesses } from './watchers.js';
import { Probes } from './probe.js';

/** Resolves every host entry; a name that does not resolve now keeps what it resolved to before. */
export async function resolveHosts(
  entries: readonly AllowEntry[],
  known: Record<string, string[]> = {},
): Promise<Record<string, string[]>> {
  const resolved: Record<string, string[]> = {};
  for (const [name, addresses] of Object.entries(known)) resolved[name] = [...addresses];
  await Promise.all(
    entries.map(async (entry) => {
      if (entry.kind !== 'host') return;
      const found = await lookup(entry.host, { all: true }).catch(() => []);
      const addresses = new Set(resolved[entry.host] ?? []);
      for (const { address } of found) addresses.add(normalizeAddress(address));
      resolved[entry.host] = [...addresses];
    }),
  );
  return resolved;
}

/** A gap in the monitor's own clock ticks longer than this means it did not run (stopped, or starved of CPU). */
const TICK_GAP_MS = 2_500;

/** The monitor's own clock: a tick every 500 ms (a late one is a gap), flushing what changed. */
function startTicks(recorder: Recorder, onTick: () => void): NodeJS.Timeout {
  let lastTick = Date.now();
  return setInterval(() => {
    const now = Date.now();
    if (now - lastTick > TICK_GAP_MS)
      recorder.window('gaps', {
        from: new Date(lastTick).toISOString(),
        to: new Date(now).toISOString(),
        reason: 'the monitor did not run (stopped, or starved of CPU)',
      });
    lastTick = now;
    onTick();
    if (recorder.dirty) recorder.flush();
  }, 500);
}

/**
 * `lock` (disable-sudo) once asked. Given back only by a clean stop (see finish), never from an exit handler: a
 * monitor that ends any other way leaves sudo denied until root removes the drop-in, and the post step says so.
 */
function lockdownHandler(config: MonitorConfig, recorder: Recorder) {
  const request = config.lockdown;
  return async () => {
    if (!request || recorder.snapshot.lockdown) return;
    const record = await lockDown(request).catch((error: Error) => ({
      sockets: [],
      problems: [`disable-sudo failed: ${error.message}`],
      restored: false,
    }));
    recorder.snapshot.lockdown = record;
    recorder.flush();
  };
}

/** The monitor process: runs until SIGTERM or a stop request, then writes its last snapshot and exits. */
export async function runMonitor(configPath: string): Promise<void> {
  // The stop secret (main writes it into the monitor's stdin, a pipe only the two of them hold, at once: through
  // sudo the pipe is relayed only while sudo runs), then main's config: the monitor begins once it is written. No
  // config (main failed and removed the sentinel's directory, or ended): nothing to watch.
  const early = prestart();
  const secret = await readSecret();
  if (!(await configWritten(configPath))) return early.abandon();
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as MonitorConfig;
  const prestarted = early.take(config);
  // Not `recursive`: a directory someone made beforehand is refused, not used (the snapshot then never appears).
  if (config.recordDir) mkdirSync(config.recordDir, { mode: 0o755 });
  const recorder = new Recorder(emptySnapshot(config), config.snapshotPath, config.job);
  if (!secret) recorder.error('the monitor did not receive its stop secret (stdin): it could never be stopped safely');
  keepRunning(recorder);
  const timers: NodeJS.Timeout[] = [];
  let listener: Listener | undefined;
  let stopping = false;
  // The watchers (nft monitor, ip monitor), prestarted or started now, are read from here on.
  const watchers = startWatchers(config, recorder, prestarted.watchers);
  if (config.method === 'conntrack') {
    listener = new Listener(config, recorder, prestarted.probes);
    try {
      await listener.start(prestarted.conntrack);
    } catch (error) {
      recorder.error((error as Error).message);
    }
    timers.push(setInterval(() => listener!.heartbeat(), HEARTBEAT_MS));
  } else timers.push(await startPolling(config, recorder, () => stopping));
  timers.push(...periodicTasks(config, recorder));
  const forwarder = await startDnsForwarder(config, recorder);
  const reading = { preExisting: Promise.resolve() };
  // The flows that predate the sentinel: in block mode read before it is ready (main then puts in the rules that cut
  // them); in audit mode once it is ready (they are only listed: main need not wait for them).
  if (config.mode === 'block') await readPreExisting(listener, recorder);
  const readyAt = Date.now();
  recorder.snapshot.ready = true;
  recorder.flush();
  // Requests are watched from here (only main, once it saw ready, and later steps send any; the first look finds one
  // sent before): the stop token's HMAC loads node:crypto, which main need not wait for.
  const answer = requestHandler(config, recorder, listener, reading);
  const stop = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    const token = stopToken(secret ?? '', config.marker);
    const failed = (error: unknown) => recorder.error(`the monitor's request check failed: ${messageOf(error)}`);
    const requests =
      config.requestDir && secret
        ? watchRequests(config.requestDir, token, (request) => answer(request, resolve), failed)
        : undefined;
    timers.push(startTicks(recorder, () => requests?.check()));
  });
  if (config.mode === 'audit') reading.preExisting = readPreExisting(listener, recorder, readyAt);
  await stop;
  // The tables are read at once, while the listener drains (they are removed only after: the drain's probe must be
  // tracked); what changed in them up to the stop request is in what is read.
  const rules = config.finish ? readRules(config.privilege, { mode: config.mode, ...config.finish }) : undefined;
  rules?.catch(() => undefined);
  await reading.preExisting;
  stopping = true;
  for (const timer of timers) clearTimeout(timer);
  await listener?.stop();
  forwarder?.stop();
  watchers.stop();
  const stall = listener?.openStall();
  if (stall !== undefined)
    recorder.window('gaps', {
      from: new Date(stall).toISOString(),
      to: new Date().toISOString(),
      reason: 'no connection events arrived (the conntrack listener was stopped or held up)',
    });
  await finish(config, recorder, rules);
  recorder.snapshot.stopped = true;
  recorder.flush();
  process.exit(0);
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The monitor must outlive anything that goes wrong in its tasks, callbacks and timers (an exception there would end
 * it mid-job): it records it as an error, which the stop and post steps report as tampering, and watches on.
 */
function keepRunning(recorder: Recorder): void {
  const record = (error: unknown) => {
    recorder.error(`the monitor hit an error: ${messageOf(error)}`);
    try {
      recorder.flush();
    } catch {
      // written with the next tick's flush
    }
  };
  process.on('unhandledRejection', record);
  process.on('uncaughtException', record);
}

/**
 * As root with nft and conntrack installed, main chooses conntrack (see start.ts): the monitor starts its
 * `conntrack -E` and its watchers before main's config arrives, and sends its first probe, so that their starts
 * overlap main's preparations; what they print meanwhile waits in their pipes for the listener and the watchers,
 * which take them over. Not taken over (main chose otherwise, a buffer size of its own, no config at all): ended.
 */
function prestart() {
  const root = process.getuid?.() === 0 && onPath('conntrack') && onPath('nft');
  const conntrack = root ? spawnConntrack([]) : undefined;
  const watchers = root ? spawnWatchers([], true) : undefined;
  const probes = new Probes();
  if (root) void probes.send().catch(() => undefined);
  let failed = false;
  conntrack?.on('error', () => (failed = true));
  const end = (children: (ChildProcess | undefined)[]) => {
    for (const child of children) child?.kill('SIGTERM');
  };
  const fits = (config: MonitorConfig) =>
    !failed && config.method === 'conntrack' && config.privilege.prefix.length === 0;
  return {
    take: (config: MonitorConfig): { conntrack?: ChildProcess; watchers?: WatcherProcesses; probes: Probes } => {
      if (!fits(config)) {
        end([conntrack, watchers?.links, watchers?.rules, watchers?.chains]);
        return { probes };
      }
      // A buffer size of main's own needs a listener started with it.
      if (config.bufferBytes) end([conntrack]);
      return { conntrack: config.bufferBytes ? undefined : conntrack, watchers, probes };
    },
    /** No config: the monitor ends without watching anything. */
    abandon: (): never => {
      end([conntrack, watchers?.links, watchers?.rules, watchers?.chains]);
      return process.exit(0);
    },
  };
}

function readPreExisting(listener: Listener | undefined, recorder: Recorder, readyAt?: number): Promise<void> {
  return (listener?.preExisting(readyAt) ?? Promise.resolve([])).then(
    (flows) => void ((recorder.snapshot.preExisting = flows), recorder.flush()),
    (error: Error) => recorder.error(`reading the connection table failed: ${error.message}`),
  );
}

/** The monitor's stdin: the stop secret (64 hex characters), then the end of the pipe. */
function readSecret(): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const done = () => {
      process.stdin.destroy();
      resolve(/^[0-9a-f]{64}$/.test(text.trim()) ? text.trim() : undefined);
    };
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => (text = `${text}${chunk}`.slice(0, 256)));
    process.stdin.on('end', done);
    process.stdin.on('error', done);
  });
}

/** Whether main's config file appears (renamed into place, by directory events), before its directory goes or 30s. */
function configWritten(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    let watcher: FSWatcher | undefined;
    const end = (written: boolean) => {
      watcher?.close();
      clearInterval(slow);
      clearTimeout(timer);
      resolve(written);
    };
    const look = () => (existsSync(path) ? end(true) : !existsSync(dirname(path)) ? end(false) : undefined);
    const slow = setInterval(look, 250);
    const timer = setTimeout(() => end(false), 30_000);
    try {
      watcher = watch(dirname(path), look);
      watcher.on('error', () => undefined);
    } catch {
      // the slow look still sees it
    }
    look();
  });
}

/**
 * What the monitor does with a step's request: `lock` (disable-sudo), a checkpoint (every event so far read, the
 * tables read, recorded), main's seal (recorded once), a stop with the right token (ends the monitor); a stop
 * without it, a second seal or a request that is not a regular file: refused, tampering.
 */
function requestHandler(
  config: MonitorConfig,
  recorder: Recorder,
  listener: Listener | undefined,
  reading: { preExisting: Promise<void> },
) {
  const lock = lockdownHandler(config, recorder);
  let checkpoints = Promise.resolve();
  const checkpoint = async (id: string) => {
    await reading.preExisting;
    await listener?.drain();
    if (config.finish)
      recorder.snapshot.checkpointRules = await readRules(config.privilege, { mode: config.mode, ...config.finish });
    recorder.snapshot.checkpoints.push({ id, at: new Date().toISOString() });
    recorder.flush();
  };
  return (request: Request, stop: () => void) => {
    if (request.kind === 'lock') return void lock();
    if (request.kind === 'checkpoint')
      return void (checkpoints = checkpoints
        .then(() => checkpoint(request.id))
        .catch((error: Error) => recorder.error(`a checkpoint failed: ${error.message}`)));
    const at = new Date().toISOString();
    if (request.kind === 'seal') {
      if (recorder.snapshot.stateDigest === undefined) recorder.snapshot.stateDigest = request.digest;
      else if (recorder.snapshot.stateDigest !== request.digest)
        recorder.tamper(`${at}: a second seal of the sentinel's state was refused (only main's first one counts)`);
    } else if (request.kind === 'forged')
      recorder.tamper(`${at}: a request (${request.name}) that is ${request.type}, not a regular file, was refused`);
    else if (request.valid) return stop();
    else {
      const what = request.type ? `${request.type}, not a regular file; ` : '';
      recorder.tamper(`${at}: a stop request without the valid secret was refused (${what}the monitor kept watching)`);
    }
    recorder.flush();
  };
}

/**
 * The root parts of stopping, done here because the job's user may have no sudo left: the tables (as read at the
 * stop request, then removed), the lockdown.
 */
async function finish(
  config: MonitorConfig,
  recorder: Recorder,
  rules: Promise<FinalRules> | undefined,
): Promise<void> {
  if (rules)
    recorder.snapshot.final = await rules
      .then(async (found) => ({ ...found, removed: await removeRuleset(config.privilege) }))
      .catch((error: Error) => (recorder.error(`reading the rules at the end failed: ${error.message}`), undefined));
  const record = recorder.snapshot.lockdown;
  if (config.lockdown && record) restore(config.lockdown, record);
}

function emptySnapshot(config: MonitorConfig): Snapshot {
  return {
    pid: process.pid,
    method: config.method,
    ready: false,
    stopped: false,
    resolved: config.resolved,
    destinations: [],
    preExisting: [],
    blockedFirstSeen: {},
    gaps: [],
    incomplete: [],
    tampering: [],
    errors: [],
    checkpoints: [],
  };
}

/** Polling reads the TCP tables at least this often, even when the socket counters did not change. */
const TCP_READ_MS = 1_000;

/**
 * The fallback without conntrack: /proc/net read every pollIntervalMs (connections shorter than that can be missed).
 * UDP's tables each time; TCP's (costly to read) when the namespace's socket counters changed, and at least every
 * second (a connection that replaced another between two looks leaves the counters as they were).
 */
async function startPolling(
  config: MonitorConfig,
  recorder: Recorder,
  stopping: () => boolean,
): Promise<NodeJS.Timeout> {
  const seen = new Map<string, ProcSocket>();
  let counters = '';
  let tcpReadAt = 0;
  const poll = async () => {
    const now = Date.now();
    const changed = tcpCounters();
    const readTcp = changed !== counters || now - tcpReadAt >= TCP_READ_MS;
    if (readTcp) [counters, tcpReadAt] = [changed, now];
    const protocols = readTcp ? (['tcp', 'udp'] as const) : (['udp'] as const);
    const sockets = await readSockets(protocols);
    const listening = new Set(
      sockets.filter((socket) => socket.state === 10).map((socket) => `${socket.protocol} ${socket.localPort}`),
    );
    const current = new Set<string>();
    for (const socket of sockets) {
      const tuple = `${socket.protocol} ${socket.localAddress} ${socket.localPort} ${socket.remoteAddress} ${socket.remotePort}`;
      current.add(tuple);
      if (seen.has(tuple) || listening.has(`${socket.protocol} ${socket.localPort}`)) continue;
      seen.set(tuple, socket);
      recorder.record(
        { protocol: socket.protocol, destination: socket.remoteAddress, port: socket.remotePort, time: Date.now() },
        () => processOfInode(socket.inode),
      );
    }
    // Only the protocols read now: a TCP flow not looked at this time is not gone.
    for (const [tuple, socket] of seen)
      if (!current.has(tuple) && (protocols as readonly string[]).includes(socket.protocol)) seen.delete(tuple);
  };
  await poll();
  return setInterval(() => {
    if (!stopping()) poll().catch((error: Error) => recorder.error(`polling /proc/net failed: ${error.message}`));
  }, config.pollIntervalMs);
}

/** Names resolved again (block mode: new addresses allowed at once), local addresses refreshed, refused destinations read. */
function periodicTasks(config: MonitorConfig, recorder: Recorder): NodeJS.Timeout[] {
  const { snapshot } = recorder;
  const timers = [
    setInterval(() => {
      void resolveHosts(config.entries, snapshot.resolved).then(async (resolved) => {
        const added = emptyElements();
        for (const entry of config.entries) {
          if (entry.kind !== 'host') continue;
          for (const address of resolved[entry.host] ?? [])
            if (!(snapshot.resolved[entry.host] ?? []).includes(address))
              addElement(added, address, undefined, entry.port);
        }
        snapshot.resolved = resolved;
        recorder.dirty = true;
        if (config.mode === 'block' && Object.values(added).some((list) => list.length > 0)) {
          await addElements(config.privilege, added);
          snapshot.allowSets = await readAllowSets(config.privilege);
        }
      });
    }, config.resolveIntervalMs),
    setInterval(() => recorder.refreshLocals(), 5_000),
  ];
  if (config.mode === 'block')
    timers.push(
      setInterval(() => {
        void readBlocked(config.privilege)
          .catch(() => [])
          .then((blocked) => {
            for (const item of blocked) {
              const key = destinationKey(item.protocol, item.address, item.port);
              if (snapshot.blockedFirstSeen[key]) continue;
              snapshot.blockedFirstSeen[key] = new Date().toISOString();
              recorder.dirty = true;
            }
          });
      }, 2_000),
    );
  return timers;
}
