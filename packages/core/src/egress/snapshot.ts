import type { DnsRecord } from './dns-forwarder.js';
import type { FinalRules } from './final.js';
import type { LockdownRecord } from './lockdown.js';
import type { Method } from './monitor-config.js';
import type { Window } from './report.js';

/** A destination the job connected to, as the monitor counted it. */
export interface Destination {
  address: string;
  port: number;
  protocol: string;
  count: number;
  firstSeen: string;
  pid?: number;
  process?: string;
  natFrom?: string;
  /** scope: job — connections of this destination by processes outside the job (not in `count`). */
  outside?: number;
  outsideProcess?: string;
  outsidePid?: number;
}

/** A flow in the connection table before the monitor listened. */
export interface PreExisting {
  address: string;
  port: number;
  protocol: string;
  sourcePort: number;
}

/** What the monitor writes (atomically, about twice a second while something changed, and when it stops). */
export interface Snapshot {
  pid: number;
  method: Method;
  ready: boolean;
  stopped: boolean;
  resolved: Record<string, string[]>;
  destinations: Destination[];
  preExisting: PreExisting[];
  /** When the monitor first saw each rejected destination (`protocol address port`) in the blocked sets. */
  blockedFirstSeen: Record<string, string>;
  /** Block mode: the allow sets as the monitor last left them (after adding addresses a name resolved to). */
  allowSets?: string;
  /** When the monitor or its listener stood still (stopped, killed, starved). */
  gaps: Window[];
  /** When connections may have been missed (events the kernel dropped). */
  incomplete: Window[];
  /** Changes elsewhere that could blind the sentinel (rules, interfaces), as they happened. */
  tampering: string[];
  errors: string[];
  /** What the DNS forwarder answered and refused. */
  dns?: DnsRecord;
  /** The sentinel's tables at the end, read by the monitor before it removed them. */
  final?: FinalRules;
  /** SHA-256 of the state main left for a stop step (its seal request, see control.ts): what that step checks. */
  stateDigest?: string;
  /** disable-sudo: what was taken away, and whether it was given back. */
  lockdown?: LockdownRecord;
  /** The stop step's checkpoints (each once every event before it was read), in order. */
  checkpoints: Checkpoint[];
  /** The sentinel's tables as the monitor read them at the last checkpoint (left in place). */
  checkpointRules?: FinalRules;
}

/** A checkpoint a step asked for (`id`, its own random name) and when the monitor had read every event before it. */
export interface Checkpoint {
  id: string;
  at: string;
}
