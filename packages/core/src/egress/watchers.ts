import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { MonitorConfig } from './monitor-config.js';
import { RAW_TABLE, TABLE } from './tables.js';
import type { Recorder } from './recorder.js';

/** nftables changes that affect what is tracked or where packets go (any table but the sentinel's own). */
const TRACKING_OR_ROUTING =
  /\b(notrack|dnat|snat|masquerade|redirect|tproxy|type nat|type route|hook prerouting|hook output|hook ingress|hook egress|priority raw|ct zone|dup to|fwd to)\b/;
/** Interfaces whose traffic leaves at layer 2 without passing this namespace's IP stack. */
const BYPASS_KINDS = /\b(macvlan|macvtap|ipvlan|ipvtap)\b/;
const MAX_NOTES = 50;

/** A change to nftables (as `nft monitor` prints it) that is tampering, or undefined. */
export function nftTampering(line: string): string | undefined {
  if (line.startsWith('#') || line.includes(TABLE) || line.includes(RAW_TABLE)) return undefined;
  return TRACKING_OR_ROUTING.test(line) ? `nftables changed while the job ran: ${line.slice(0, 300)}` : undefined;
}

/** A link event (as `ip -o -d monitor link` prints it) that is tampering, or undefined. */
export function linkTampering(line: string, seen: Set<string>): string | undefined {
  const name = /^(?:Deleted\s+)?\d+:\s+([^:@\s]+)/.exec(line)?.[1];
  if (!name) return undefined;
  const kind = BYPASS_KINDS.exec(line)?.[1];
  // A veth end moved into a container leaves its peer here: that traffic still passes this namespace.
  if (line.startsWith('Deleted') && /\bnew-netnsid\b/.test(line) && !/\bveth\b/.test(line))
    return `interface ${name} was moved to another network namespace while the job ran (its traffic is no longer tracked here)`;
  if (kind && !line.startsWith('Deleted') && !seen.has(name)) {
    seen.add(name);
    return `a ${kind} interface (${name}) was created while the job ran: its traffic can leave without passing this namespace's tracking`;
  }
  return undefined;
}

function spawnFollower(prefix: readonly string[], command: string[]): ChildProcess {
  const [file, ...args] = [...prefix, ...command];
  const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  child.on('error', () => undefined);
  return child;
}

/** The watchers' processes: `ip monitor link`, and `nft monitor` where nftables is watched (conntrack method). */
export interface WatcherProcesses {
  links: ChildProcess;
  rules?: ChildProcess;
}

/**
 * Starts the watchers' processes. The monitor starts them before its config arrives (see prestart in monitor.ts):
 * what they print meanwhile waits in their pipes, read from the moment startWatchers takes them.
 */
export function spawnWatchers(prefix: readonly string[], rules: boolean): WatcherProcesses {
  return {
    links: spawnFollower([], ['ip', '-o', '-d', 'monitor', 'link']),
    ...(rules ? { rules: spawnFollower(prefix, ['nft', 'monitor']) } : {}),
  };
}

/**
 * Watches, by events, for what would blind the monitor without touching it: nftables rules elsewhere that change
 * tracking or routing (`nft monitor`, iptables-nft included), and interfaces created or moved that bypass this
 * namespace. Each becomes a tampering note.
 */
export function startWatchers(
  config: MonitorConfig,
  recorder: Recorder,
  started = spawnWatchers(config.privilege.prefix, config.method === 'conntrack'),
): ChildProcess[] {
  const note = (text: string | undefined) => {
    if (text === undefined || recorder.snapshot.tampering.length >= MAX_NOTES) return;
    recorder.snapshot.tampering.push(text);
    recorder.dirty = true;
  };
  const seen = new Set<string>();
  createInterface({ input: started.links.stdout! }).on('line', (line) => note(linkTampering(line, seen)));
  if (started.rules) createInterface({ input: started.rules.stdout! }).on('line', (line) => note(nftTampering(line)));
  return [started.links, ...(started.rules ? [started.rules] : [])];
}
