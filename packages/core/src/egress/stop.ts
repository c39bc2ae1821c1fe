import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { oneLine } from '../text.js';
import type { CheckResult } from '../report/result.js';
import { isAllowed, namesFor, type AllowContext } from './allow.js';
import { dnsViolations, namesOfEntry } from './dns-report.js';
import { restoreResolver } from './dns-resolver.js';
import { destinationKey } from './recorder.js';
import { reverseName } from './reverse-name.js';
import type { Snapshot } from './snapshot.js';
import { sendCheckpoint, sendStop, stopToken } from './control.js';
import { isMonitorAlive, takeStopSent } from './launch.js';
import { recordProblem, stateRewritten } from './record.js';
import { readAndRemoveRules, type FinalRules } from './final.js';
import { TABLE_REF, type BlockedDestination } from './nft.js';
import {
  METHOD_TEXT,
  reportResults,
  type DnsReport,
  type OutsideConnection,
  type SentinelReport,
  type Violation,
} from './report.js';
import { interfaces } from './host-facts.js';
import { POLL_INTERVAL_MS, type SentinelConfig, type SentinelState } from './sentinel-state.js';
import { readSnapshot, waitForSnapshot } from './snapshot-file.js';

const REVERSE_LOOKUPS = 16;

/**
 * Ends the monitor (a stop request: the job's user may have no sudo left to signal it; it drains its events, does
 * the root parts of stopping and writes its last snapshot) and reads what it saw.
 */
async function endMonitor(state: SentinelState, secret: string, tampering: string[]): Promise<Snapshot | undefined> {
  // The post step's entry may have asked already, before this code was loaded (sendStopEarly): then whether the
  // monitor was running is what it found at that moment.
  const sent = takeStopSent(state.marker);
  if (sent?.alive ?? isMonitorAlive(state)) {
    if (!sent) sendStop(state.dir, stopToken(secret, state.marker));
    await waitForSnapshot(
      state.snapshotPath,
      (found) => found.stopped,
      () => !isMonitorAlive(state),
      15_000,
    );
    // It exits right after its last snapshot: the step ends with the monitor gone (bounded, by looking every 2 ms).
    for (let i = 0; i < 1_000 && isMonitorAlive(state); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  } else
    tampering.push(
      `the monitor (pid ${state.pid}) was stopped before the sentinel was: connections after that were not seen`,
    );
  const snapshot = readSnapshot(state.snapshotPath);
  tampering.push(...snapshotTampering(state, snapshot));
  if (state.lockdown && !snapshot?.lockdown?.restored)
    tampering.push("the monitor did not give sudo back to the job's user: it ended before it could (killed?)");
  return snapshot;
}

/** What the monitor's record says went wrong: errors, tampering it saw, gaps, disable-sudo problems. */
function snapshotTampering(state: SentinelState, snapshot: Snapshot | undefined): string[] {
  const tampering: string[] = [];
  if (!snapshot) tampering.push(`the monitor's record (${state.snapshotPath}) is missing`);
  for (const error of snapshot?.errors ?? []) tampering.push(error);
  tampering.push(...(snapshot?.tampering ?? []));
  for (const gap of snapshot?.gaps ?? []) tampering.push(`${gap.reason} from ${gap.from} to ${gap.to}`);
  for (const problem of snapshot?.lockdown?.problems ?? []) tampering.push(`disable-sudo: ${problem}`);
  return tampering;
}

/**
 * The stop step's checkpoint (it cannot stop the monitor: only the post step holds the stop secret): asks the
 * monitor to read every event so far and its tables, and waits for its record to name this checkpoint.
 */
async function takeCheckpoint(state: SentinelState, text: string, tampering: string[]): Promise<Snapshot | undefined> {
  const problem = recordProblem(state, text);
  if (problem) return void tampering.push(problem);
  if (!isMonitorAlive(state)) {
    tampering.push(`the monitor (pid ${state.pid}) is not running: connections after it ended were not seen`);
    return readSnapshot(state.snapshotPath);
  }
  const id = randomBytes(16).toString('hex');
  sendCheckpoint(state.dir, id);
  const taken = (found: Snapshot) => (found.checkpoints ?? []).some((item) => item.id === id);
  const snapshot = await waitForSnapshot(state.snapshotPath, taken, () => !isMonitorAlive(state), 15_000);
  if (!snapshot || !taken(snapshot)) tampering.push(`the monitor did not take the stop step's checkpoint within 15s`);
  return snapshot;
}

/** The tables at the end: as the monitor read them before removing them, or read (and removed) here when it did not. */
async function finalRules(state: SentinelState, snapshot: Snapshot | undefined): Promise<FinalRules | undefined> {
  if (snapshot?.final) return snapshot.final;
  const privilege = state.privilege ? { prefix: state.privilege } : undefined;
  if (!privilege || state.lockdown) return undefined;
  return readAndRemoveRules(privilege, {
    mode: state.config.mode,
    devices: state.devices,
    allowSets: state.allowSets !== undefined,
  });
}

/** Compares the tables and interfaces with what was installed, reads what block mode refused, removes the tables. */
async function checkRules(
  state: SentinelState,
  snapshot: Snapshot | undefined,
  tampering: string[],
  atCheckpoint: boolean,
) {
  const found = { removed: !atCheckpoint, blocked: [] as BlockedDestination[], raw: {} as Record<string, number> };
  for (const device of state.devices)
    if (!interfaces().includes(device))
      tampering.push(`interface ${device} left this network namespace (deleted or moved) while the job ran`);
  if (state.ruleset === undefined) return found;
  const end = atCheckpoint ? snapshot?.checkpointRules : await finalRules(state, snapshot);
  if (!end) {
    tampering.push(
      atCheckpoint
        ? `the sentinel's tables (${TABLE_REF}) were not read by the monitor at the checkpoint`
        : `the sentinel's tables (${TABLE_REF}) could not be read or removed: the monitor did not, and this step has no sudo`,
    );
    return { ...found, removed: false };
  }
  if (end.ruleset === undefined)
    tampering.push(`the sentinel's nftables table (${TABLE_REF}) was removed while the job ran`);
  else if (end.ruleset !== state.ruleset)
    tampering.push(
      `the sentinel's nftables tables (${TABLE_REF} and its raw-frame table) were changed while the job ran`,
    );
  else if (end.allowSets !== undefined && end.allowSets !== (snapshot?.allowSets ?? state.allowSets))
    tampering.push(
      `addresses were added to or removed from the sentinel's allow sets (${TABLE_REF}) while the job ran`,
    );
  if (state.legacy !== undefined && end.legacy !== state.legacy)
    tampering.push('iptables-legacy rules were changed while the job ran');
  return { removed: end.removed, blocked: end.blocked, raw: end.raw };
}

function allowContext(state: SentinelState, snapshot: Snapshot | undefined): AllowContext {
  const resolved = { ...state.resolved };
  // The names the DNS forwarder answered count too: a connection to their addresses was allowed.
  for (const [name, addresses] of [
    ...Object.entries(snapshot?.resolved ?? {}),
    ...Object.entries(snapshot?.dns?.names ?? {}),
  ])
    resolved[name] = [...new Set([...(resolved[name] ?? []), ...addresses])];
  return {
    entries: state.config.entries,
    resolved: new Map(Object.entries(resolved)),
    dnsServers: state.dnsServers,
    allowLoopback: state.config.allowLoopback,
  };
}

/** The destinations not allowed, seen and refused, named where a name is known (reverse names for at most 16). */
async function judge(context: AllowContext, snapshot: Snapshot | undefined, blocked: BlockedDestination[]) {
  // scope: job — a destination only processes outside the job connected to is not a violation (see outsideJob).
  const seen = (snapshot?.destinations ?? []).filter(
    (item) => item.count > 0 && !isAllowed(context, item.address, item.port, item.protocol),
  );
  const unnamed = [...seen.map((item) => item.address), ...blocked.map((item) => item.address)].filter(
    (address, index, all) => all.indexOf(address) === index && namesFor(address, context.resolved).length === 0,
  );
  const reverse = new Map(
    await Promise.all(
      unnamed.slice(0, REVERSE_LOOKUPS).map(async (address) => [address, await reverseName(address)] as const),
    ),
  );
  const nameOf = (address: string) => namesFor(address, context.resolved)[0] ?? reverse.get(address)?.name;
  const violations = new Map<string, Violation>();
  for (const item of seen) {
    const name = nameOf(item.address);
    // A name pattern (`*.example.com`) is matched against the address's reverse name, once it is forward-confirmed.
    const confirmed = reverse.get(item.address)?.confirmed !== false;
    if (name && confirmed && isAllowed(context, item.address, item.port, item.protocol, [name])) continue;
    violations.set(destinationKey(item.protocol, item.address, item.port), {
      address: item.address,
      port: item.port,
      protocol: item.protocol,
      ...(name ? { hostname: name } : {}),
      'first-seen': item.firstSeen,
      count: item.count,
      blocked: false,
      ...(item.natFrom ? { 'nat-from': item.natFrom } : {}),
      ...(item.process ? { process: oneLine(item.process, 64) } : {}),
      ...(item.pid ? { pid: item.pid } : {}),
    });
  }
  for (const item of blocked) {
    const key = destinationKey(item.protocol, item.address, item.port);
    const known = violations.get(key);
    if (known) Object.assign(known, { blocked: true, count: Math.max(known.count, item.packets) });
    else
      violations.set(key, {
        address: item.address,
        port: item.port,
        protocol: item.protocol,
        ...(nameOf(item.address) ? { hostname: nameOf(item.address)! } : {}),
        'first-seen': snapshot?.blockedFirstSeen[key] ?? new Date().toISOString(),
        count: item.packets,
        blocked: true,
      });
  }
  return [...violations.values()].sort((a, b) => a['first-seen'].localeCompare(b['first-seen']));
}

/** scope: job — the connections to destinations not allowed that were left out, by whom. */
function outsideJob(context: AllowContext, snapshot: Snapshot | undefined): OutsideConnection[] {
  return (snapshot?.destinations ?? [])
    .filter((item) => (item.outside ?? 0) > 0 && !isAllowed(context, item.address, item.port, item.protocol))
    .map((item) => ({
      address: item.address,
      port: item.port,
      protocol: item.protocol,
      count: item.outside!,
      ...(item.outsideProcess ? { process: oneLine(item.outsideProcess, 64) } : {}),
      ...(item.outsidePid ? { pid: item.outsidePid } : {}),
    }));
}

/**
 * Raw frames (not sent through the sentinel's rules) as violations, one per interface: those counted since the
 * tables were read at the start (see rawAtStart).
 */
function rawViolations(state: SentinelState, raw: Record<string, number>, at: string): Violation[] {
  return Object.entries(raw)
    .map(([device, packets]) => [device, packets - (state.rawAtStart?.[device] ?? 0)] as const)
    .filter(([, packets]) => packets > 0)
    .map(([device, packets]) => ({
      address: `raw frames on ${device}`,
      port: 0,
      protocol: 'ethernet',
      'first-seen': at,
      count: packets,
      blocked: state.config.mode === 'block',
    }));
}

type Outcome = { report: SentinelReport; rulesRemoved: boolean; results: CheckResult[] };

/**
 * Stops the monitor (with the stop token made from `secret`: only the post step has it), reads what it saw and what
 * the rules rejected, removes the rules, and judges.
 */
export async function stopSentinel(
  state: SentinelState,
  secret: string,
  config: SentinelConfig = state.config,
  current?: string,
): Promise<Outcome> {
  const started = Date.now();
  const tampering: string[] = [];
  // The resolver first, while the forwarder still answers: a later step of the job then finds DNS as it was. With
  // disable-sudo the job's user has no sudo until the monitor has given it back, at its end: then after it.
  const restore = () =>
    state.dns?.before && state.privilege
      ? restoreResolver({ prefix: state.privilege }, state.dns.before)
      : Promise.resolve(undefined);
  let restoreProblem = state.lockdown ? undefined : await restore();
  const snapshot = await endMonitor(state, secret, tampering);
  const rewritten = stateRewritten(state, snapshot?.stateDigest, current);
  if (rewritten) tampering.push(rewritten);
  if (state.lockdown) restoreProblem = await restore();
  const rules = await checkRules(state, snapshot, tampering, false);
  const dns = dnsReport(state, snapshot, { restored: restoreProblem === undefined, problem: restoreProblem });
  return judgeAll(state, config, { snapshot, rules, tampering, dns, started });
}

/**
 * The stop step's interim report: everything up to a checkpoint the monitor took for it. The monitor, its rules,
 * the DNS forwarder and disable-sudo stay until the post step, which alone can stop them. `text`: the state file as
 * read (parsed into `state`), which must be the one main sealed (see recordProblem).
 */
export async function checkpointSentinel(state: SentinelState, text: string): Promise<Outcome> {
  const started = Date.now();
  const tampering: string[] = [];
  const snapshot = await takeCheckpoint(state, text, tampering);
  tampering.push(...snapshotTampering(state, snapshot));
  const rules = await checkRules(state, snapshot, tampering, true);
  const dns = dnsReport(state, snapshot, { restored: false });
  const checkpoint = snapshot?.checkpoints.at(-1)?.at;
  return judgeAll(state, state.config, { snapshot, rules, tampering, dns, started, checkpoint });
}

/** The destinations first seen after the last checkpoint, when a stop step was declared (stop-step: true). */
function splitAfterStop(config: SentinelConfig, snapshot: Snapshot | undefined, violations: Violation[]) {
  const last = snapshot?.checkpoints.at(-1)?.at;
  if (!config.stopStep || last === undefined) return { violations, afterStop: undefined };
  return {
    violations: violations.filter((item) => item['first-seen'] <= last),
    afterStop: violations.filter((item) => item['first-seen'] > last),
  };
}

async function judgeAll(
  state: SentinelState,
  config: SentinelConfig,
  found: {
    snapshot: Snapshot | undefined;
    rules: { removed: boolean; blocked: BlockedDestination[]; raw: Record<string, number> };
    tampering: string[];
    dns: DnsReport;
    started: number;
    checkpoint?: string;
  },
): Promise<Outcome> {
  const { snapshot, rules, tampering } = found;
  const context = allowContext(state, snapshot);
  const stoppedAt = new Date().toISOString();
  const judged = [
    ...(await judge(context, snapshot, rules.blocked)),
    ...rawViolations(state, rules.raw, stoppedAt),
    ...dnsViolations(snapshot?.dns),
  ];
  const { violations, afterStop } = found.checkpoint
    ? { violations: judged, afterStop: undefined }
    : splitAfterStop(config, snapshot, judged);
  const resolved = Object.fromEntries(context.resolved);
  const incomplete = [...(snapshot?.incomplete ?? []), ...endedEarly(state, snapshot, found.checkpoint, stoppedAt)];
  const report: SentinelReport = {
    version: 1,
    method: state.method,
    ...(state.methodNote
      ? { 'method-note': `${METHOD_TEXT(POLL_INTERVAL_MS)[state.method]} (${state.methodNote})` }
      : {}),
    mode: config.mode,
    scope: state.scope ?? 'machine',
    ...(state.scopeNote ? { 'scope-note': state.scopeNote } : {}),
    ...(state.scope === 'job' ? { 'outside-job': outsideJob(context, snapshot) } : {}),
    'sudo-disabled': state.lockdown?.sudoers !== undefined,
    'containers-disabled': state.lockdown?.sockets ?? [],
    allowed: allowedItems(state, config, resolved, snapshot),
    'dns-servers': state.dnsServers,
    dns: found.dns,
    'raw-frames': state.rawNote,
    'pre-existing': preExisting(context, config, snapshot),
    violations,
    ...(afterStop ? { 'after-stop': afterStop } : {}),
    tampered: tampering.length > 0,
    tampering,
    gaps: snapshot?.gaps ?? [],
    complete: incomplete.length === 0 && snapshot !== undefined,
    incomplete,
    'started-at': state.startedAt,
    'stopped-at': found.checkpoint ?? stoppedAt,
    ...(found.checkpoint ? { checkpoint: found.checkpoint } : {}),
    checkpoints: (snapshot?.checkpoints ?? []).map((item) => item.at),
  };
  const results = reportResults(
    report,
    { installed: state.ruleset !== undefined, removed: rules.removed, kept: found.checkpoint !== undefined },
    Date.now() - found.started,
  );
  return { report, rulesRemoved: rules.removed || found.checkpoint !== undefined, results };
}

/**
 * A post step whose monitor's last record is not its stop (the monitor was killed, or died): what happened after that
 * record was not seen, so the report is incomplete from then on (`complete: false`), besides the tampering it names.
 */
function endedEarly(state: SentinelState, snapshot: Snapshot | undefined, checkpoint: string | undefined, to: string) {
  if (checkpoint !== undefined || snapshot === undefined || snapshot.stopped) return [];
  let from = state.startedAt;
  try {
    from = statSync(state.snapshotPath).mtime.toISOString();
  } catch {
    // The record was read a moment ago; without its time, the whole job is the window.
  }
  return [
    { from, to, reason: 'the monitor ended before it was stopped: connections after its last record were not seen' },
  ];
}

function allowedItems(
  state: SentinelState,
  config: SentinelConfig,
  resolved: Record<string, readonly string[]>,
  snapshot: Snapshot | undefined,
): SentinelReport['allowed'] {
  return [
    ...config.entries.map((entry) => ({
      entry: entry.text,
      ...(entry.kind === 'host' ? { addresses: [...(resolved[entry.host] ?? [])] } : {}),
      ...(state.dns && entry.kind === 'pattern' ? { names: namesOfEntry(entry, snapshot?.dns?.names) } : {}),
    })),
    ...(state.dnsServers.length
      ? [{ entry: 'DNS (port 53)', addresses: state.dnsServers, by: 'sentinel' as const }]
      : []),
    ...(config.allowLoopback ? [{ entry: 'loopback (127.0.0.0/8, ::1)', by: 'sentinel' as const }] : []),
    ...state.exceptions.map((entry) => ({ entry, by: 'sentinel' as const })),
  ];
}

function preExisting(context: AllowContext, config: SentinelConfig, snapshot: Snapshot | undefined) {
  return (snapshot?.preExisting ?? []).map((flow) => {
    const allowed = isAllowed(context, flow.address, flow.port, flow.protocol);
    return {
      address: flow.address,
      port: flow.port,
      protocol: flow.protocol,
      'source-port': flow.sourcePort,
      allowed,
      cut: config.mode === 'block' && !allowed,
    };
  });
}

function dnsReport(
  state: SentinelState,
  snapshot: Snapshot | undefined,
  restore: { restored: boolean; problem?: string },
): DnsReport {
  const restoreProblem = restore.problem;
  const policy = state.config.dnsPolicy ?? 'allowed-names-only';
  if (!state.dns) return { policy };
  return {
    policy,
    forwarder: state.dns.forwarder,
    upstream: state.dns.upstream,
    ...(snapshot?.dns?.refusedMore ? { 'refused-unlisted': snapshot.dns.refusedMore } : {}),
    ...(snapshot?.dns?.problems.length ? { problems: snapshot.dns.problems } : {}),
    restored: state.dns.before !== undefined && restore.restored,
    ...(restoreProblem ? { problems: [...(snapshot?.dns?.problems ?? []), restoreProblem] } : {}),
  };
}
