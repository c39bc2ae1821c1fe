import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lookupService } from 'node:dns/promises';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { oneLine } from '../text.js';
import type { CheckResult } from '../report/result.js';
import { dnsServersFrom, isAllowed, namesFor, type AllowContext, type AllowEntry } from './allow.js';
import { destinationKey, resolveHosts, type Method, type MonitorConfig, type Snapshot } from './monitor.js';
import {
  allowElements,
  installRuleset,
  readAllowSets,
  readBlocked,
  readRuleset,
  removeRuleset,
  rulesetScript,
  runCommand,
  TABLE_REF,
  type Privilege,
} from './nft.js';

/** The argument that starts the action's bundle as the monitor instead of a step. */
export const MONITOR_ARGUMENT = '--deploy-gates-egress-monitor';

export interface SentinelConfig {
  entries: AllowEntry[];
  mode: 'audit' | 'block';
  allowDns: boolean;
  allowLoopback: boolean;
  /** How often the monitor resolves the allowed names again (30s unless given). */
  resolveIntervalMs?: number;
}

/** What main hands post (saved as the action's state, one JSON value). */
export interface SentinelState {
  dir: string;
  configPath: string;
  snapshotPath: string;
  pid: number;
  method: Method;
  methodNote?: string;
  privilege?: string[];
  /** The table as installed (normalized), when the sentinel installed one. */
  ruleset?: string;
  /** Block mode: the allow sets with their elements as installed. */
  allowSets?: string;
  dnsServers: string[];
  resolved: Record<string, string[]>;
  startedAt: string;
}

export const POLL_INTERVAL_MS = 250;
const REVERSE_LOOKUPS = 16;

const METHOD_TEXT: Record<Method, string> = {
  conntrack:
    'kernel connection tracking (conntrack events): every new connection of every process, containers included',
  'proc-poll': `polling /proc/net/{tcp,tcp6,udp,udp6} every ${POLL_INTERVAL_MS}ms: can miss connections shorter than that interval`,
};

function succeeds(file: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => execFile(file, args, { timeout: 10_000 }, (error) => resolve(!error)));
}

/** Root, or passwordless sudo; undefined when neither. */
export async function findPrivilege(): Promise<Privilege | undefined> {
  if (process.getuid?.() === 0) return { prefix: [] };
  return (await succeeds('sudo', ['-n', 'true'])) ? { prefix: ['sudo', '-n'] } : undefined;
}

async function hasTool(privilege: Privilege, tool: string): Promise<boolean> {
  return (await runCommand(privilege, tool, ['--version'])).code === 0;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function wait(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readSnapshot(path: string): Snapshot | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  } catch {
    return undefined;
  }
}

/**
 * Starts the sentinel: resolves the allowed names, installs the rules (block mode: fails when it cannot) and starts
 * the monitor as a detached process (`node <entryScript> MONITOR_ARGUMENT <config>`), returning once it is ready.
 */
// eslint-disable-next-line max-lines-per-function -- TODO(issue 19): issue-20 is splitting it
export async function startSentinel(
  config: SentinelConfig,
  options: { entryScript: string; tempDir: string },
): Promise<SentinelState> {
  const privilege = await findPrivilege();
  const nft = privilege !== undefined && (await hasTool(privilege, 'nft'));
  const conntrack = privilege !== undefined && (await hasTool(privilege, 'conntrack'));
  if (config.mode === 'block' && !nft) {
    throw new UserError(
      privilege
        ? 'Input "mode": block needs nftables, and `nft` is not installed on this runner; install it (sudo apt-get install -y nftables) or use mode: audit'
        : 'Input "mode": block needs root or passwordless sudo to install firewall rules, and this runner has neither; use mode: audit (records without blocking) or a runner with sudo',
    );
  }
  if (config.mode === 'block' && config.entries.some((entry) => entry.kind === 'pattern')) {
    const patterns = config.entries.filter((entry) => entry.kind === 'pattern').map((entry) => entry.text);
    throw new UserError(
      `Input "allowed-endpoints": ${patterns.join(', ')} cannot be enforced in block mode (a name pattern has no addresses to allow); list the names (api.example.com:443) or use mode: audit`,
    );
  }
  const method: Method = nft && conntrack ? 'conntrack' : 'proc-poll';
  const methodNote =
    method === 'conntrack'
      ? undefined
      : !privilege
        ? 'no root or passwordless sudo for connection tracking'
        : !nft
          ? 'nft is not installed (sudo apt-get install -y nftables)'
          : 'conntrack is not installed (sudo apt-get install -y conntrack)';

  const dnsServers = config.allowDns
    ? dnsServersFrom(readText('/etc/resolv.conf'), readText('/run/systemd/resolve/resolv.conf'))
    : [];
  const resolved = await resolveHosts(config.entries);
  const marker = randomBytes(8).toString('hex');
  const dir = join(options.tempDir, `egress-sentinel-${marker}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  // The rules go in in two steps: first only the rule that makes the kernel track connections (the monitor's
  // readiness probe, a datagram to loopback, must get through even with allow-loopback off), then, once the monitor
  // listens, the whole rule set in one atomic replacement.
  const rulesFor = (mode: 'audit' | 'block') =>
    rulesetScript(
      { mode, allowLoopback: config.allowLoopback, marker },
      allowElements(config.entries, new Map(Object.entries(resolved)), dnsServers),
    );
  const rules = privilege && nft ? privilege : undefined;
  if (rules) await installRuleset(rules, rulesFor('audit'));

  const snapshotPath = join(dir, 'snapshot.json');
  const configPath = join(dir, 'config.json');
  const monitorConfig: MonitorConfig = {
    snapshotPath,
    method,
    mode: config.mode,
    privilege: privilege ?? { prefix: [] },
    entries: config.entries,
    resolved,
    resolveIntervalMs: config.resolveIntervalMs ?? 30_000,
    pollIntervalMs: POLL_INTERVAL_MS,
  };
  writeFileSync(configPath, JSON.stringify(monitorConfig));
  // Detached, its stdio closed: the runner does not wait for it, and it outlives this step.
  const child = spawn(process.execPath, [options.entryScript, MONITOR_ARGUMENT, configPath], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  let exited = false;
  child.on('exit', () => (exited = true));
  const state: SentinelState = {
    dir,
    configPath,
    snapshotPath,
    pid: child.pid ?? 0,
    method,
    methodNote,
    privilege: privilege ? [...privilege.prefix] : undefined,
    dnsServers,
    resolved,
    startedAt: new Date().toISOString(),
  };
  let problem = 'did not become ready within 15s';
  for (let waited = 0; waited < 15_000; waited += 100) {
    const snapshot = readSnapshot(snapshotPath);
    if (snapshot?.ready && snapshot.errors.length === 0) {
      if (rules) {
        if (config.mode === 'block') await installRuleset(rules, rulesFor('block'));
        state.ruleset = await readRuleset(rules);
        if (config.mode === 'block') state.allowSets = await readAllowSets(rules);
      }
      return state;
    }
    if (snapshot?.ready) {
      problem = snapshot.errors.join('; ');
      break;
    }
    // Not isMonitorAlive here: between fork and exec, /proc/<pid>/cmdline is still this step's own.
    if (exited) {
      problem = `ended before it was ready (exit code ${child.exitCode})`;
      break;
    }
    await wait(100);
  }
  if (!exited && state.pid) process.kill(state.pid, 'SIGKILL');
  if (rules) await removeRuleset(rules);
  throw new UserError(`egress-sentinel could not start its monitor (pid ${state.pid}): ${problem}`);
}

export function isMonitorAlive(state: Pick<SentinelState, 'pid' | 'configPath'>): boolean {
  if (!state.pid) return false;
  try {
    // Alive and still ours (a pid can be reused): its command line names this run's config file.
    return readFileSync(`/proc/${state.pid}/cmdline`, 'utf8').split('\0').includes(state.configPath);
  } catch {
    return false;
  }
}

export interface Violation {
  address: string;
  port: number;
  protocol: string;
  hostname?: string;
  'first-seen': string;
  count: number;
  blocked: boolean;
  process?: string;
  pid?: number;
}

export interface SentinelReport {
  version: 1;
  method: Method;
  'method-note'?: string;
  mode: 'audit' | 'block';
  allowed: { entry: string; addresses?: string[] }[];
  'dns-servers': string[];
  violations: Violation[];
  tampered: boolean;
  tampering: string[];
  'started-at': string;
  'stopped-at': string;
}

/** The address's name by the system's resolver (hosts file, then DNS PTR), within 2s. */
async function reverseName(address: string): Promise<string | undefined> {
  const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2_000).unref());
  // A name from DNS is untrusted text: only a plain host name is kept.
  const name = ({ hostname }: { hostname: string }) =>
    /^[a-z0-9_.-]{1,253}$/i.test(hostname) && hostname !== address && /[a-z]/i.test(hostname) ? hostname : undefined;
  return Promise.race([lookupService(address, 0).then(name, () => undefined), timeout]);
}

/** Stops the monitor, reads what it saw and what the rules rejected, removes the rules, and judges. */
// eslint-disable-next-line max-lines-per-function -- TODO(issue 19): issue-20 is splitting it
export async function stopSentinel(
  state: SentinelState,
  config: SentinelConfig,
): Promise<{ report: SentinelReport; rulesRemoved: boolean; results: CheckResult[] }> {
  const started = Date.now();
  const tampering: string[] = [];
  const alive = isMonitorAlive(state);
  if (alive) {
    process.kill(state.pid, 'SIGTERM');
    for (
      let waited = 0;
      waited < 10_000 && isMonitorAlive(state) && !readSnapshot(state.snapshotPath)?.stopped;
      waited += 50
    )
      await wait(50);
  } else
    tampering.push(
      `the monitor (pid ${state.pid}) was stopped before the post step: connections after that were not seen`,
    );
  const snapshot = readSnapshot(state.snapshotPath);
  if (!snapshot) tampering.push(`the monitor's record (${state.snapshotPath}) is missing`);
  for (const error of snapshot?.errors ?? []) tampering.push(error);

  const privilege = state.privilege ? { prefix: state.privilege } : undefined;
  let rulesRemoved = true;
  let blocked: Awaited<ReturnType<typeof readBlocked>> = [];
  if (state.ruleset !== undefined && privilege) {
    const now = await readRuleset(privilege);
    if (now === undefined) tampering.push(`the sentinel's nftables table (${TABLE_REF}) was removed while the job ran`);
    else if (now !== state.ruleset)
      tampering.push(`the sentinel's nftables table (${TABLE_REF}) was changed while the job ran`);
    else if (
      state.allowSets !== undefined &&
      (await readAllowSets(privilege)) !== (snapshot?.allowSets ?? state.allowSets)
    ) {
      tampering.push(
        `addresses were added to or removed from the sentinel's allow sets (${TABLE_REF}) while the job ran`,
      );
    }
    if (config.mode === 'block') blocked = await readBlocked(privilege);
    rulesRemoved = await removeRuleset(privilege);
  }

  const resolved = { ...state.resolved };
  for (const [name, addresses] of Object.entries(snapshot?.resolved ?? {}))
    resolved[name] = [...new Set([...(resolved[name] ?? []), ...addresses])];
  const resolvedMap = new Map(Object.entries(resolved));
  const context: AllowContext = {
    entries: config.entries,
    resolved: resolvedMap,
    dnsServers: state.dnsServers,
    allowLoopback: config.allowLoopback,
  };
  const patterns = config.entries.some((entry) => entry.kind === 'pattern');
  const violations = new Map<string, Violation>();
  // Reverse names of the destinations not allowed otherwise, looked up side by side and for at most REVERSE_LOOKUPS
  // addresses (each may wait for a DNS timeout); the rest are reported without a name.
  const unnamed = [
    ...(snapshot?.destinations ?? [])
      .filter((item) => !isAllowed(context, item.address, item.port, item.protocol))
      .map((item) => item.address),
    ...blocked.map((item) => item.address),
  ].filter((address, index, all) => all.indexOf(address) === index && namesFor(address, resolvedMap).length === 0);
  const reverseNames = new Map(
    await Promise.all(
      unnamed.slice(0, REVERSE_LOOKUPS).map(async (address) => [address, await reverseName(address)] as const),
    ),
  );
  for (const destination of snapshot?.destinations ?? []) {
    const known = namesFor(destination.address, resolvedMap);
    if (isAllowed(context, destination.address, destination.port, destination.protocol)) continue;
    const reverse = known.length === 0 ? reverseNames.get(destination.address) : undefined;
    // A name pattern (`*.example.com`) is matched against the address's reverse name.
    if (
      patterns &&
      reverse &&
      isAllowed(context, destination.address, destination.port, destination.protocol, [reverse])
    )
      continue;
    const { address, port, protocol, count, firstSeen, pid, process: name } = destination;
    violations.set(destinationKey(protocol, address, port), {
      address,
      port,
      protocol,
      hostname: known[0] ?? reverse,
      'first-seen': firstSeen,
      count,
      blocked: false,
      ...(name ? { process: oneLine(name, 64) } : {}),
      ...(pid ? { pid } : {}),
    });
  }
  for (const item of blocked) {
    const key = destinationKey(item.protocol, item.address, item.port);
    const known = violations.get(key);
    if (known) {
      known.blocked = true;
      known.count = Math.max(known.count, item.packets);
      continue;
    }
    violations.set(key, {
      address: item.address,
      port: item.port,
      protocol: item.protocol,
      hostname: namesFor(item.address, resolvedMap)[0] ?? reverseNames.get(item.address),
      'first-seen': snapshot?.blockedFirstSeen[key] ?? new Date().toISOString(),
      count: item.packets,
      blocked: true,
    });
  }
  const list = [...violations.values()].sort((a, b) => a['first-seen'].localeCompare(b['first-seen']));
  for (const violation of list) if (violation.hostname === undefined) delete violation.hostname;

  const report: SentinelReport = {
    version: 1,
    method: state.method,
    ...(state.methodNote ? { 'method-note': `${METHOD_TEXT[state.method]} (${state.methodNote})` } : {}),
    mode: config.mode,
    allowed: config.entries.map((entry) =>
      entry.kind === 'host' ? { entry: entry.text, addresses: resolved[entry.host] ?? [] } : { entry: entry.text },
    ),
    'dns-servers': state.dnsServers,
    violations: list,
    tampered: tampering.length > 0,
    tampering,
    'started-at': state.startedAt,
    'stopped-at': new Date().toISOString(),
  };
  const durationMs = Date.now() - started;
  const results: CheckResult[] = [
    {
      name: 'Monitor',
      status: tampering.length > 0 ? 'fail' : 'pass',
      detail:
        tampering.length > 0
          ? `tampered: ${tampering.join('; ')}`
          : METHOD_TEXT[state.method] + (state.methodNote ? ` (${state.methodNote})` : ''),
      durationMs,
    },
    ...(state.ruleset !== undefined
      ? [
          {
            name: 'Rules',
            status: rulesRemoved ? ('pass' as const) : ('fail' as const),
            detail: `${TABLE_REF} (${config.mode === 'block' ? 'rejects what is not allowed, IPv4 and IPv6, output and forward' : 'tracks every connection'}) ${rulesRemoved ? 'removed' : 'could NOT be removed'}`,
            durationMs: 0,
          },
        ]
      : []),
    ...list.slice(0, 100).map((violation) => ({
      name: `${violation.address.includes(':') ? `[${violation.address}]` : violation.address}:${violation.port}/${violation.protocol}${violation.hostname ? ` (${violation.hostname})` : ''}`,
      status: 'fail' as const,
      detail: `not allowed: ${violation.count} ${violation.blocked ? 'attempt(s), blocked' : 'connection(s)'}, first at ${violation['first-seen']}${violation.process ? `, by ${violation.process} (pid ${violation.pid})` : ''}`,
      durationMs: 0,
    })),
    ...(list.length === 0
      ? [
          {
            name: 'Destinations',
            status: 'pass' as const,
            detail: 'only allowed endpoints were contacted',
            durationMs: 0,
          },
        ]
      : []),
  ];
  return { report, rulesRemoved, results };
}

/** Whether a previous phase left a state to stop (main may have failed before it started anything). */
export function stateExists(state: SentinelState | undefined): state is SentinelState {
  return state !== undefined && existsSync(state.dir);
}
