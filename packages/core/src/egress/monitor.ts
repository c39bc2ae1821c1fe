import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { createInterface } from 'node:readline';
import { isLoopback, normalizeAddress, type AllowEntry } from './allow.js';
import { parseConntrackLine, type ConnectionEvent } from './conntrack.js';
import { addElement, addElements, emptyElements, readAllowSets, readBlocked, type Privilege } from './nft.js';
import { processOfInode, readSockets, type ProcSocket } from './procnet.js';

export type Method = 'conntrack' | 'proc-poll';

/** What the main step hands the monitor (a JSON file beside its snapshot). */
export interface MonitorConfig {
  snapshotPath: string;
  method: Method;
  mode: 'audit' | 'block';
  privilege: Privilege;
  entries: AllowEntry[];
  resolved: Record<string, string[]>;
  resolveIntervalMs: number;
  pollIntervalMs: number;
}

export interface Destination {
  address: string;
  port: number;
  protocol: string;
  count: number;
  firstSeen: string;
  pid?: number;
  process?: string;
}

/** What the monitor writes (atomically, about twice a second while something changed, and when it stops). */
export interface Snapshot {
  pid: number;
  method: Method;
  ready: boolean;
  stopped: boolean;
  resolved: Record<string, string[]>;
  destinations: Destination[];
  /** When the monitor first saw each rejected destination (`protocol address port`) in the blocked sets. */
  blockedFirstSeen: Record<string, string>;
  /** Block mode: the allow sets as the monitor last left them (after adding addresses a name resolved to). */
  allowSets?: string;
  errors: string[];
}

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

export const destinationKey = (protocol: string, address: string, port: number) => `${protocol} ${address} ${port}`;

function localAddresses(): Set<string> {
  const addresses = new Set<string>();
  for (const list of Object.values(networkInterfaces()))
    for (const item of list ?? []) addresses.add(normalizeAddress(item.address.replace(/%.*$/, '')));
  return addresses;
}

/** The monitor process: runs until SIGTERM, then writes its last snapshot and exits. */
// eslint-disable-next-line max-lines-per-function -- TODO(issue 19): issue-20 is splitting it
export async function runMonitor(configPath: string): Promise<void> {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as MonitorConfig;
  // The monitor must outlive anything that goes wrong in one of its periodic tasks: it records it and goes on.
  process.on('unhandledRejection', (error) => {
    snapshot.errors.push(`the monitor hit an error: ${error instanceof Error ? error.message : String(error)}`);
    dirty = true;
  });
  const snapshot: Snapshot = {
    pid: process.pid,
    method: config.method,
    ready: false,
    stopped: false,
    resolved: config.resolved,
    destinations: [],
    blockedFirstSeen: {},
    errors: [],
  };
  const byKey = new Map<string, Destination>();
  let dirty = true;
  const flush = () => {
    snapshot.destinations = [...byKey.values()];
    writeFileSync(`${config.snapshotPath}.tmp`, JSON.stringify(snapshot));
    renameSync(`${config.snapshotPath}.tmp`, config.snapshotPath);
    dirty = false;
  };
  let locals = localAddresses();
  const probePorts = new Set<number>();
  let probeSeen = false;

  const record = (
    event: { protocol: string; destination: string; port: number; time: number },
    owner?: () => Promise<{ pid: number; process: string } | undefined>,
  ) => {
    const address = normalizeAddress(event.destination);
    // Connections to this machine's own addresses are inbound (or to itself); loopback is judged by allow-loopback.
    if (locals.has(address) && !isLoopback(address)) return;
    const key = destinationKey(event.protocol, address, event.port);
    const known = byKey.get(key);
    dirty = true;
    if (known) return void known.count++;
    const destination: Destination = {
      address,
      port: event.port,
      protocol: event.protocol,
      count: 1,
      firstSeen: new Date(event.time).toISOString(),
    };
    byKey.set(key, destination);
    void owner?.().then((found) => {
      if (!found) return;
      Object.assign(destination, found);
      dirty = true;
    });
  };

  const timers: NodeJS.Timeout[] = [];
  let child: ChildProcess | undefined;
  let stopping = false;

  if (config.method === 'conntrack') {
    const [command, ...args] = [...config.privilege.prefix, 'conntrack', '-E', '-e', 'NEW', '-o', 'timestamp,extended'];
    child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    child.on('error', (error) => snapshot.errors.push(`conntrack could not be started: ${error.message}`));
    child.on('exit', (code, signal) => {
      if (stopping) return;
      snapshot.errors.push(
        `the conntrack listener ended while the job ran (${signal ?? `exit code ${code}`}${stderr.trim() ? `: ${stderr.trim()}` : ''})`,
      );
      flush();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = parseConntrackLine(line);
      if (!event) return;
      if (event.protocol === 'udp' && event.port === 9 && probePorts.has(event.sourcePort))
        return void (probeSeen = true);
      record(event, () => ownerOfConnection(event));
    });
    // Ready once conntrack reports a datagram the monitor sends itself: from then on no connection is missed. Each
    // attempt comes from a new socket (a new source port), so it is a new flow with a NEW event of its own: resending
    // from one socket only refreshes the flow's entry, and its one NEW event may come before conntrack listens.
    for (let attempt = 0; attempt < 100 && !probeSeen && child.exitCode === null; attempt++) {
      const probe = createSocket('udp4');
      await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
      probePorts.add(probe.address().port);
      await new Promise((resolve) => probe.send('deploy-gates egress-sentinel probe', 9, '127.0.0.1', resolve));
      probe.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!probeSeen)
      snapshot.errors.push(
        'conntrack reported no events within 10s (is connection tracking available in this network namespace?)',
      );
  } else {
    const seen = new Map<string, ProcSocket>();
    const poll = async () => {
      const sockets = await readSockets();
      const listening = new Set(
        sockets.filter((socket) => socket.state === 10).map((socket) => `${socket.protocol} ${socket.localPort}`),
      );
      const current = new Set<string>();
      for (const socket of sockets) {
        const tuple = `${socket.protocol} ${socket.localAddress} ${socket.localPort} ${socket.remoteAddress} ${socket.remotePort}`;
        current.add(tuple);
        if (seen.has(tuple) || listening.has(`${socket.protocol} ${socket.localPort}`)) continue;
        seen.set(tuple, socket);
        record(
          { protocol: socket.protocol, destination: socket.remoteAddress, port: socket.remotePort, time: Date.now() },
          () => processOfInode(socket.inode),
        );
      }
      for (const tuple of seen.keys()) if (!current.has(tuple)) seen.delete(tuple);
    };
    await poll();
    const loop = async () => {
      if (stopping) return;
      await poll().catch((error: Error) => snapshot.errors.push(`polling /proc/net failed: ${error.message}`));
      timers.push(setTimeout(loop, config.pollIntervalMs));
    };
    timers.push(setTimeout(loop, config.pollIntervalMs));
  }

  // Names are resolved again while the job runs; in block mode new addresses are allowed at once.
  timers.push(
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
        dirty = true;
        if (config.mode === 'block' && Object.values(added).some((list) => list.length > 0)) {
          await addElements(config.privilege, added);
          snapshot.allowSets = await readAllowSets(config.privilege);
        }
      });
    }, config.resolveIntervalMs),
  );
  timers.push(setInterval(() => (locals = localAddresses()), 5_000));
  if (config.mode === 'block') {
    timers.push(
      setInterval(() => {
        void readBlocked(config.privilege)
          .catch(() => [])
          .then((blocked) => {
            for (const item of blocked) {
              const key = destinationKey(item.protocol, item.address, item.port);
              if (!snapshot.blockedFirstSeen[key])
                // eslint-disable-next-line @typescript-eslint/no-unused-expressions -- TODO(issue 19): issue-20 rewrites the monitor
                ((snapshot.blockedFirstSeen[key] = new Date().toISOString()), (dirty = true));
            }
          });
      }, 2_000),
    );
  }
  timers.push(setInterval(() => dirty && flush(), 500));

  snapshot.ready = true;
  flush();
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
  stopping = true;
  for (const timer of timers) clearTimeout(timer);
  if (child) {
    // Events already read are in byKey; give conntrack a moment to hand over what it still holds.
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGTERM');
  }
  snapshot.stopped = true;
  flush();
  process.exit(0);
}

/** The process of a connection that is still open (best effort: a short one is gone before it is looked up). */
async function ownerOfConnection(event: ConnectionEvent): Promise<{ pid: number; process: string } | undefined> {
  if (event.protocol !== 'tcp' && event.protocol !== 'udp') return undefined;
  const sockets = await readSockets();
  const socket = sockets.find(
    (item) =>
      item.protocol === event.protocol &&
      item.localPort === event.sourcePort &&
      normalizeAddress(item.remoteAddress) === event.destination &&
      item.remotePort === event.port,
  );
  return socket ? processOfInode(socket.inode) : undefined;
}
