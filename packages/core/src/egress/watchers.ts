import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { MonitorConfig } from './monitor-config.js';
import { RAW_TABLE, TABLE } from './tables.js';
import type { Recorder } from './recorder.js';

/**
 * nftables changes that affect what is tracked or where packets go (any table but the sentinel's own), or what
 * conntrack reports (`ct event set` silences a flow's events) and what the sentinel's rules accept (`ct mark set`:
 * block mode accepts by a connection mark of its own).
 */
const TRACKING_OR_ROUTING =
  /\b(notrack|dnat|snat|masquerade|redirect|tproxy|type nat|type route|hook prerouting|hook output|hook ingress|hook egress|priority raw|ct zone|ct event set|ct mark set|dup to|fwd to)\b/;
/** The table an `nft monitor` line is about: the first family keyword after the verb and object, then the name. */
const TABLE_OF_LINE = /^(?:\S+ )+?(ip|ip6|inet|arp|bridge|netdev) (\S+)(?: |$)/;
/** Interfaces whose traffic leaves at layer 2 without passing this namespace's IP stack. */
const BYPASS_KINDS = /\b(macvlan|macvtap|ipvlan|ipvtap)\b/;
const MAX_NOTES = 50;

/** A change to nftables (as `nft monitor` prints it) that is tampering, or undefined. */
export function nftTampering(line: string): string | undefined {
  if (line.startsWith('#') || isOwnTable(line)) return undefined;
  return TRACKING_OR_ROUTING.test(line) ? `nftables changed while the job ran: ${line.slice(0, 300)}` : undefined;
}

/**
 * Whether a line is about one of the sentinel's own tables: exactly `inet deploy_gates_egress` or `netdev
 * deploy_gates_egress_raw`, family and whole name (a look-alike such as `inet deploy_gates_egress_x` is not).
 */
export function isOwnTable(line: string): boolean {
  const [, family, name] = TABLE_OF_LINE.exec(line) ?? [];
  return (family === 'inet' && name === TABLE) || (family === 'netdev' && name === RAW_TABLE);
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

/**
 * The watchers' processes: `ip monitor link`, and where nftables is watched (conntrack method) `nft monitor` of
 * rules and of chains. Not the whole `nft monitor`: nftables 1.0.6 prints the elements of the sentinel's own
 * concatenated interval sets (`addr . port-range`) from memory it never set, megabytes of it, and at times crashes
 * doing so — which left the rules unwatched from the start of block mode. Rules and chains are all it judges.
 */
export interface WatcherProcesses {
  links: ChildProcess;
  rules?: ChildProcess;
  chains?: ChildProcess;
}

/**
 * Starts the watchers' processes. The monitor starts them before its config arrives (see prestart in monitor.ts):
 * what they print meanwhile waits in their pipes, read from the moment startWatchers takes them.
 */
export function spawnWatchers(prefix: readonly string[], rules: boolean): WatcherProcesses {
  return {
    links: spawnFollower([], ['ip', '-o', '-d', 'monitor', 'link']),
    ...(rules
      ? {
          rules: spawnFollower(prefix, ['nft', 'monitor', 'rules']),
          chains: spawnFollower(prefix, ['nft', 'monitor', 'chains']),
        }
      : {}),
  };
}

/**
 * Watches, by events, for what would blind the monitor without touching it: nftables rules elsewhere that change
 * tracking or routing (`nft monitor`, iptables-nft included), and interfaces created or moved that bypass this
 * namespace. Each becomes a tampering note; so does a watcher that ends before `stop()` (killed: nothing after that
 * would be seen).
 */
export function startWatchers(
  config: MonitorConfig,
  recorder: Recorder,
  started = spawnWatchers(config.privilege.prefix, config.method === 'conntrack'),
): { stop(): void } {
  const note = (text: string | undefined) => {
    if (text === undefined || recorder.snapshot.tampering.length >= MAX_NOTES) return;
    recorder.tamper(text);
  };
  const seen = new Set<string>();
  createInterface({ input: started.links.stdout! }).on('line', (line) => note(linkTampering(line, seen)));
  const nft = [started.rules, started.chains].filter((child) => child !== undefined);
  for (const child of nft) createInterface({ input: child.stdout! }).on('line', (line) => note(nftTampering(line)));
  const children = [
    [started.links, '`ip monitor link` (interfaces)'] as const,
    ...(started.rules ? [[started.rules, '`nft monitor rules` (rules elsewhere)'] as const] : []),
    ...(started.chains ? [[started.chains, '`nft monitor chains` (hooks elsewhere)'] as const] : []),
  ];
  let stopping = false;
  for (const [child, what] of children)
    onExit(child, (how) => {
      if (stopping) return;
      recorder.tamper(`${new Date().toISOString()}: the monitor's watcher ${what} ended (${how}) while the job ran`);
      recorder.flush();
    });
  return {
    stop: () => {
      stopping = true;
      for (const [child] of children) child.kill('SIGTERM');
    },
  };
}

/** Calls `ended` once when a child that was started ends (at once if it already has); one never started is not told. */
function onExit(child: ChildProcess, ended: (how: string) => void): void {
  if (child.pid === undefined) return;
  let told = false;
  const tell = (code: number | null, signal: string | null) =>
    told ? undefined : ((told = true), ended(signal ?? `exit code ${code}`));
  child.on('exit', tell);
  if (child.exitCode !== null || child.signalCode !== null) tell(child.exitCode, child.signalCode);
}
