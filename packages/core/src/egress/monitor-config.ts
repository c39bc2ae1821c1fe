import type { AllowEntry } from './allow.js';
import type { ForwarderConfig } from './dns-forwarder.js';
import type { LockdownRequest } from './lockdown.js';
import type { Privilege } from './privilege.js';
import type { JobScope } from './scope.js';

/** How the monitor learns of connections: conntrack events, or polling /proc/net where conntrack is not available. */
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
  /** The DNS forwarder to run (block mode, dns-policy allowed-names-only): it tries these loopback addresses. */
  dns?: Omit<ForwarderConfig, 'address'> & { addresses: string[] };
  /** The sentinel's directory, where a step that cannot signal the monitor asks it to stop (see control.ts). */
  requestDir?: string;
  /** This run's sentinel (a random id): the stop token is bound to it. */
  marker: string;
  /** A root monitor's own directory for its snapshot (`/run/deploy-gates-egress-<marker>`), which it creates. */
  recordDir?: string;
  /** Rules were installed: the monitor reads and removes them when it stops. */
  finish?: { devices: string[]; allowSets: boolean };
  /** disable-sudo: what to take away from the job's user when main asks (a `lock` request). */
  lockdown?: LockdownRequest;
  /** scope: job — the runner's process (the main step's parent) and the job's user. */
  job?: JobScope;
  /** The conntrack listener's netlink receive buffer (16 MiB unless given). */
  bufferBytes?: number;
}
