import type { AllowEntry } from './allow.js';
import type { DnsPolicy } from './dns-policy.js';
import type { ResolverBefore } from './dns-resolver.js';
import type { Method } from './monitor-config.js';

/** How often the monitor reads /proc/net where it polls (no conntrack): shorter connections can be missed. */
export const POLL_INTERVAL_MS = 250;

/** What the action's inputs ask of the sentinel, as main read them. */
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
