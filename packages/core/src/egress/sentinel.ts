import { execFile } from 'node:child_process';
import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { AllowEntry } from './allow.js';
import type { DnsPolicy } from './dns-policy.js';
import type { ResolverBefore } from './dns-resolver.js';
import type { Method, Snapshot } from './monitor.js';
import type { Privilege } from './nft.js';

export { readText } from './host-facts.js';

export { startSentinel } from './start.js';
export { checkpointSentinel, stopSentinel } from './stop.js';
export type { SentinelReport, Violation } from './report.js';

export { isMonitorAlive, MONITOR_ARGUMENT } from './launch.js';

export interface SentinelConfig {
  entries: AllowEntry[];
  mode: 'audit' | 'block';
  allowDns: boolean;
  allowLoopback: boolean;
  /** How often the monitor resolves the allowed names again (30s unless given). */
  resolveIntervalMs?: number;
  /** `allowed-names-only` unless given (effective in block mode with names in the allow-list). */
  dnsPolicy?: DnsPolicy;
  /** Take the job's user's passwordless sudo away while the sentinel watches (and the container sockets). */
  disableSudo?: boolean;
  disableContainers?: boolean;
  /** `job` (the default): connections of processes provably outside the job are left out; `machine`: all count. */
  scope?: 'job' | 'machine';
  /** A later step with `stop: true` ends the watched steps: connections after its checkpoint do not fail the job. */
  stopStep?: boolean;
}

/** What main hands post and the stop step (saved as the action's state, and in the run's temp directory). */
export interface SentinelState {
  /** This run's sentinel (random): in its directory names, its tables' comment, and what the stop token is bound to. */
  marker: string;
  dir: string;
  configPath: string;
  snapshotPath: string;
  /** The monitor's own pid (it runs detached, in a session of its own, as root where sudo is available). */
  pid: number;
  method: Method;
  methodNote?: string;
  privilege?: string[];
  config: SentinelConfig;
  /** The tables as installed (normalized), when the sentinel installed them. */
  ruleset?: string;
  /** Block mode: the allow sets with their elements as installed. */
  allowSets?: string;
  /** iptables-legacy's rules at the start (which `nft monitor` cannot see). */
  legacy?: string;
  /** Interfaces whose raw frames the netdev egress hooks watch (empty: none), and why not where not. */
  devices: string[];
  /**
   * Each interface's raw-frame counter as read with the tables at the start: a frame the kernel sent while the
   * tables went in (its postrouting hook passed before them, its egress hook after) is counted then, not by the job.
   */
  rawAtStart?: Record<string, number>;
  rawNote: string;
  /** The exceptions the sentinel makes by itself (block mode), for the report's `allowed`. */
  exceptions: string[];
  dnsServers: string[];
  resolved: Record<string, string[]>;
  startedAt: string;
  /** The DNS forwarder (block mode, dns-policy allowed-names-only): where it listens, whom it asks, what it replaced. */
  dns?: { forwarder: string; upstream: string[]; before?: ResolverBefore };
  /** The scope in effect, and why it is `machine` when `job` was asked for. */
  scope: 'job' | 'machine';
  scopeNote?: string;
  /** disable-sudo was in effect (the job's user had no sudo, so the monitor does every root part of stopping). */
  lockdown?: { sudoers?: string; sockets: string[] };
}

export const POLL_INTERVAL_MS = 250;

function succeeds(file: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => execFile(file, args, { timeout: 10_000 }, (error) => resolve(!error)));
}

/** Root, or passwordless sudo; undefined when neither. */
export async function findPrivilege(): Promise<Privilege | undefined> {
  if (process.getuid?.() === 0) return { prefix: [] };
  return (await succeeds('sudo', ['-n', 'true'])) ? { prefix: ['sudo', '-n'] } : undefined;
}

export function readSnapshot(path: string): Snapshot | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  } catch {
    return undefined;
  }
}

/**
 * Waits until the monitor's snapshot satisfies `done` (it renames a new one into place: a directory event), until
 * `gone()` says it never will, or `timeoutMs`; gives the last snapshot read. A root monitor creates its directory
 * itself: until it is there, its parent is watched. A slow look every 250 ms backs up the file events (which a busy
 * file system may coalesce).
 */
export function waitForSnapshot(
  path: string,
  done: (snapshot: Snapshot) => boolean,
  gone: () => boolean,
  timeoutMs: number,
): Promise<Snapshot | undefined> {
  return new Promise((resolve) => {
    let finished = false;
    const watchers: FSWatcher[] = [];
    const finish = (snapshot: Snapshot | undefined) => {
      if (finished) return;
      finished = true;
      for (const watcher of watchers) watcher.close();
      clearInterval(slow);
      clearTimeout(timer);
      resolve(snapshot);
    };
    let watching = false;
    const check = () => {
      if (!watching) watching = watchDir(dirname(path), check, watchers);
      const snapshot = readSnapshot(path);
      if (snapshot && done(snapshot)) finish(snapshot);
      else if (gone()) finish(readSnapshot(path));
    };
    watching = watchDir(dirname(path), check, watchers);
    if (!watching) watchDir(dirname(dirname(path)), check, watchers);
    const slow = setInterval(check, 250);
    const timer = setTimeout(() => finish(readSnapshot(path)), timeoutMs);
    check();
  });
}

function watchDir(dir: string, onEvent: () => void, watchers: FSWatcher[]): boolean {
  try {
    const watcher = watch(dir, onEvent);
    watcher.on('error', () => undefined);
    watchers.push(watcher);
    return true;
  } catch {
    return false;
  }
}

/** Whether a previous phase left a state to stop (main may have failed before it started anything). */
export function stateExists(state: SentinelState | undefined): state is SentinelState {
  return state !== undefined && existsSync(state.dir);
}
