import { renameSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { isLoopback, normalizeAddress } from './allow.js';
import type { Destination, Snapshot } from './snapshot.js';
import type { Window } from './report.js';
import { isOutsideJob, type JobScope } from './scope.js';

export const destinationKey = (protocol: string, address: string, port: number) => `${protocol} ${address} ${port}`;

function localAddresses(): Set<string> {
  const addresses = new Set<string>();
  for (const list of Object.values(networkInterfaces()))
    for (const item of list ?? []) addresses.add(normalizeAddress(item.address.replace(/%.*$/, '')));
  return addresses;
}

const MAX_LOOKUPS = 8;
/** Tampering notes kept: a step that repeats one (a forged request in a loop) cannot grow the record without end. */
const MAX_NOTES = 100;

export type Owner = () => Promise<{ pid: number; process: string } | undefined>;

/** What the monitor has seen, and its snapshot file (written atomically: a temporary file renamed over it). */
export class Recorder {
  private readonly byKey = new Map<string, Destination>();
  /**
   * Flows already counted, with the time their first event was told (a table dump after lost events lists flows the
   * events may have told already; pre-existing flows are those not told since the sentinel became ready).
   */
  private readonly flows = new Map<string, number>();
  private locals = localAddresses();
  /** Process look-ups under way (each walks /proc); a connection not looked up counts as the job's. */
  private lookups = 0;
  dirty = true;

  constructor(
    readonly snapshot: Snapshot,
    private readonly path: string,
    /** scope: job — connections whose process is provably outside the job are moved out of `count`. */
    private readonly job?: JobScope,
  ) {}

  refreshLocals(): void {
    this.locals = localAddresses();
  }

  isLocal(address: string): boolean {
    return this.locals.has(normalizeAddress(address)) && !isLoopback(address);
  }

  /** Whether an event told `flow` at or after `since` (ms since the epoch). */
  toldSince(flow: string, since: number): boolean {
    return (this.flows.get(flow) ?? -Infinity) >= since;
  }

  flush(): void {
    this.snapshot.destinations = [...this.byKey.values()];
    writeFileSync(`${this.path}.tmp`, JSON.stringify(this.snapshot));
    renameSync(`${this.path}.tmp`, this.path);
    this.dirty = false;
  }

  error(message: string): void {
    this.snapshot.errors.push(message);
    this.dirty = true;
  }

  /** A tampering note; past MAX_NOTES, one last note says that more were left out. */
  tamper(text: string): void {
    const notes = this.snapshot.tampering;
    if (notes.length > MAX_NOTES) return;
    notes.push(notes.length === MAX_NOTES ? 'more tampering was seen and not listed' : text);
    this.dirty = true;
  }

  window(list: 'gaps' | 'incomplete', window: Window): void {
    this.snapshot[list].push(window);
    this.dirty = true;
  }

  /**
   * Counts one connection. `flow` (its original tuple) is remembered, so that a table dump (`fromDump`, after lost
   * events) does not count again a flow an event already told.
   */
  record(
    event: { protocol: string; destination: string; port: number; time: number; natFrom?: string },
    owner?: Owner,
    flow?: string,
    fromDump = false,
  ): void {
    const address = normalizeAddress(event.destination);
    // Connections to this machine's own addresses are inbound (or to itself); loopback is judged by allow-loopback.
    if (this.locals.has(address) && !isLoopback(address)) return;
    if (flow !== undefined) {
      if (fromDump && this.flows.has(flow)) return;
      if (this.flows.size < 500_000 && !this.flows.has(flow)) this.flows.set(flow, event.time);
    }
    const key = destinationKey(event.protocol, address, event.port);
    const known = this.byKey.get(key);
    this.dirty = true;
    if (known) {
      known.count++;
      // Each connection's own process decides whether it counts (scope: job); the first one named is kept.
      if (this.job) this.lookUp(known, owner);
      return;
    }
    const destination: Destination = {
      address,
      port: event.port,
      protocol: event.protocol,
      count: 1,
      firstSeen: new Date(event.time).toISOString(),
      ...(event.natFrom ? { natFrom: event.natFrom } : {}),
    };
    this.byKey.set(key, destination);
    this.lookUp(destination, owner);
  }

  /** Looks up the process of one connection, a few at a time (under a flood, the rest count as the job's). */
  private lookUp(destination: Destination, owner: Owner | undefined): void {
    if (!owner || this.lookups >= MAX_LOOKUPS) return;
    this.lookups++;
    void owner()
      .then((found) => found && this.attribute(destination, found))
      .finally(() => this.lookups--);
  }

  /** Names the process of one connection of `destination`: the job's, or (scope: job) one outside it. */
  private attribute(destination: Destination, found: { pid: number; process: string }): void {
    this.dirty = true;
    if (this.job && isOutsideJob(this.job, found.pid)) {
      destination.count--;
      destination.outside = (destination.outside ?? 0) + 1;
      destination.outsideProcess ??= found.process;
      destination.outsidePid ??= found.pid;
    } else if (destination.pid === undefined) Object.assign(destination, found);
  }
}
