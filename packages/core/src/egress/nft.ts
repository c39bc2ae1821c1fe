import { isIP } from 'node:net';
import type { AllowEntry } from './allow.js';
import { DNS_SETS, dnsRules, type DnsRuleOptions } from './dns-nft.js';
import { runCommand, type Privilege } from './privilege.js';

import {
  installScript,
  RAW_TABLE,
  REMOVE_SCRIPT,
  TABLE,
  TABLE_REF,
  tablesScript,
  type TableOptions,
} from './tables.js';

export { PASSED_MARK, RAW_TABLE, TABLE, TABLE_REF } from './tables.js';

/** The elements of the allow sets: `addr` or `addr/prefix` for any port, `addr . port` for one port, per family. */
export interface AllowElements {
  any4: string[];
  any6: string[];
  port4: string[];
  port6: string[];
  /** This machine's on-link IPv6 prefixes: neighbour discovery may reach them. */
  onlink6: string[];
  /** The DHCPv4 servers of this machine's leases. */
  dhcp4: string[];
}

export function emptyElements(): AllowElements {
  return { any4: [], any6: [], port4: [], port6: [], onlink6: [], dhcp4: [] };
}

/** Adds one allowed destination (address or network, optional port) to the element lists. */
export function addElement(
  elements: AllowElements,
  address: string,
  prefix: number | undefined,
  port: number | undefined,
): boolean {
  const family = isIP(address);
  if (family !== 4 && family !== 6) return false;
  const host = prefix === undefined || prefix === (family === 4 ? 32 : 128) ? address : `${address}/${prefix}`;
  const list =
    port === undefined ? elements[family === 4 ? 'any4' : 'any6'] : elements[family === 4 ? 'port4' : 'port6'];
  const element = port === undefined ? host : `${host} . ${port}`;
  if (list.includes(element)) return false;
  list.push(element);
  return true;
}

/** The elements for the allow-list as resolved so far, the DNS servers (port 53) included. */
export function allowElements(
  entries: readonly AllowEntry[],
  resolved: ReadonlyMap<string, readonly string[]>,
  dnsServers: readonly string[],
  dhcpServers: readonly string[] = [],
  onlink6: readonly string[] = [],
): AllowElements {
  const elements = emptyElements();
  for (const server of dhcpServers) if (isIP(server) === 4) elements.dhcp4.push(server);
  elements.onlink6.push(...onlink6);
  for (const entry of entries) {
    if (entry.kind === 'network') addElement(elements, entry.address, entry.prefix, entry.port);
    if (entry.kind === 'host')
      for (const address of resolved.get(entry.host) ?? []) addElement(elements, address, undefined, entry.port);
  }
  // Loopback servers too (systemd-resolved's 127.0.0.53 stub): with allow-loopback off, loopback is otherwise refused.
  for (const server of dnsServers) addElement(elements, server, undefined, 53);
  return elements;
}

const SET_NAMES: Record<keyof AllowElements, string> = {
  any4: 'allow4any',
  any6: 'allow6any',
  port4: 'allow4',
  port6: 'allow6',
  onlink6: 'onlink6',
  dhcp4: 'dhcp4',
};

/** `add element …` lines for the elements given (none for an empty list). */
export function elementCommands(elements: AllowElements): string[] {
  return (Object.keys(SET_NAMES) as (keyof AllowElements)[])
    .filter((key) => elements[key].length > 0)
    .map((key) => `add element ${TABLE_REF} ${SET_NAMES[key]} { ${elements[key].join(', ')} }`);
}

export interface RulesetOptions extends TableOptions {
  allowLoopback: boolean;
  /** This machine's on-link IPv6 prefixes (neighbour discovery may reach them). */
  onlink6?: readonly string[];
  /** Block mode's DNS forwarder (dns-policy allowed-names-only): its address, its upstream, the learned sets. */
  dns?: DnsRuleOptions;
}

/** The exceptions block mode makes by itself, as the report lists them. */
export function sentinelExceptions(options: RulesetOptions): string[] {
  return [
    'DHCPv4 from port 68 to port 67 of 255.255.255.255' +
      (options.dhcpServers?.length ? ` or of the lease's server (${options.dhcpServers.join(', ')})` : ''),
    'DHCPv6 from port 546 to port 547 of ff02::1:2 or ff05::1:3',
    'ICMPv6 router and neighbour discovery to link-local (fe80::/10) and link-scope multicast (ff02::/16), and neighbour solicitations/advertisements (hop limit 255) to the on-link prefixes of this machine' +
      (options.onlink6?.length ? ` (${options.onlink6.join(', ')})` : ''),
    ...(!options.allowLoopback ? ["the monitor's own probes: root's datagrams to 127.0.0.1 port 9"] : []),
    'packets of connections others opened to this machine (reply direction), and ICMP errors about tracked connections',
    ...(options.devices?.length ? ['ARP frames (raw frames are otherwise dropped)'] : []),
  ];
}

function blockRules(hook: 'output' | 'forward', options: RulesetOptions): string[] {
  return [
    'ct direction reply accept',
    'ct state related accept',
    ...(options.dns ? dnsRules(hook, options.dns) : []),
    ...(options.allowLoopback && hook === 'output' ? ['oifname "lo" accept'] : []),
    'udp sport 68 udp dport 67 ip daddr 255.255.255.255 accept',
    'udp sport 68 udp dport 67 ip daddr @dhcp4 accept',
    'udp sport 546 udp dport 547 ip6 daddr { ff02::1:2, ff05::1:3 } accept',
    'icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } ip6 daddr { fe80::/10, ff02::/16 } accept',
    'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 ip6 daddr @onlink6 accept',
    // The monitor's own probes (root's datagrams to the discard port on loopback) when loopback is not allowed.
    ...(!options.allowLoopback && hook === 'output'
      ? ['oifname "lo" ip daddr 127.0.0.1 udp dport 9 meta skuid 0 accept']
      : []),
    'ip daddr @allow4any accept',
    'ip6 daddr @allow6any accept',
    'meta l4proto { tcp, udp } ip daddr . th dport @allow4 accept',
    'meta l4proto { tcp, udp } ip6 daddr . th dport @allow6 accept',
    'meta l4proto { tcp, udp } update @blocked4 { ip daddr . meta l4proto . th dport }',
    'meta l4proto { tcp, udp } update @blocked6 { ip6 daddr . meta l4proto . th dport }',
    'meta l4proto tcp reject with tcp reset',
    'reject with icmpx admin-prohibited',
  ];
}

const SETS = [
  '  set allow4any { type ipv4_addr; flags interval; }',
  '  set allow6any { type ipv6_addr; flags interval; }',
  '  set allow4 { type ipv4_addr . inet_service; flags interval; }',
  '  set allow6 { type ipv6_addr . inet_service; flags interval; }',
  '  set onlink6 { type ipv6_addr; flags interval; }',
  '  set dhcp4 { type ipv4_addr; }',
  '  set blocked4 { type ipv4_addr . inet_proto . inet_service; size 65535; flags dynamic; counter; }',
  '  set blocked6 { type ipv6_addr . inet_proto . inet_service; size 65535; flags dynamic; counter; }',
];

/**
 * The sentinel's tables (see tablesScript). In block mode the output and forward hooks (the job's own processes,
 * and containers behind a bridge) check every packet a connection sends outward, flows older than the sentinel
 * included: what is allowed passes, the few exceptions above pass, the rest is rejected fast (TCP with a reset,
 * anything else with an ICMP "administratively prohibited"), each rejected TCP/UDP destination counted in a dynamic set.
 */
export function rulesetScript(options: RulesetOptions, elements: AllowElements): string {
  if (options.mode !== 'block') return tablesScript(options);
  return tablesScript(options, {
    sets: [...SETS, ...(options.dns ? DNS_SETS : [])],
    rules: (hook) => blockRules(hook, options),
    elements: elementCommands(elements),
  });
}

/**
 * A table's listing without counter values (as `nft -s` prints it) and without set elements: the allow sets grow
 * while hostnames are re-resolved, the blocked sets fill and counters count, but the rules, sets and marker must
 * stay as installed.
 */
export function normalizeListing(listing: string): string {
  return listing
    .replace(/\s*elements = \{[^}]*\}/g, '')
    .replace(/\s*packets \d+ bytes \d+/g, '')
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '')
    .join('\n');
}

/**
 * Installs the tables, replacing ones already there (an earlier phase's, or ones left by a crashed job) in the same
 * transaction: `nft -f` applies a script all or nothing, so connections are tracked without a gap. `fresh`: only
 * where none is there (see installScript); the caller replaces them when this fails.
 */
export async function installRuleset(privilege: Privilege, script: string, fresh?: { marker: string }): Promise<void> {
  const result = await runCommand(privilege, 'nft', ['-f', '-'], installScript(script, fresh));
  if (result.code !== 0)
    throw new Error(`nft could not install the egress rules: ${result.stderr.trim() || `exit code ${result.code}`}`);
}

/**
 * The sentinel's two tables as `nft list ruleset` prints them (one process for both, counters included), keyed
 * `family name`. A table listed twice (which nft never prints) keeps both listings, so it cannot equal one installed.
 */
export function tablesOf(listing: string): Map<string, string> {
  const tables = new Map<string, string>();
  let current: { key: string; lines: string[] } | undefined;
  for (const line of listing.split('\n')) {
    const start = /^table (\S+) (\S+) \{$/.exec(line);
    if (start) current = { key: `${start[1]} ${start[2]}`, lines: [] };
    current?.lines.push(line);
    if (current && line === '}') {
      const text = current.lines.join('\n');
      tables.set(current.key, tables.has(current.key) ? `${tables.get(current.key)}\n${text}` : text);
      current = undefined;
    }
  }
  return tables;
}

/**
 * The tables as they are now (normalized; undefined when the inet table is gone) and the raw frames the netdev
 * egress hooks counted (not sent through the sentinel's rules), per interface: one `nft list ruleset`.
 */
export async function readTables(
  privilege: Privilege,
  devices: readonly string[] = [],
): Promise<{ ruleset?: string; raw: Record<string, number> }> {
  const result = await runCommand(privilege, 'nft', ['list', 'ruleset']);
  if (result.code !== 0) return { raw: {} };
  const tables = tablesOf(result.stdout);
  const [inet, raw] = [tables.get(`inet ${TABLE}`), tables.get(`netdev ${RAW_TABLE}`)];
  const counts: Record<string, number> = {};
  for (const match of (raw ?? '').matchAll(/counter raw(\d+) \{\s*packets (\d+) bytes \d+/g)) {
    const device = devices[Number(match[1])];
    if (device !== undefined) counts[device] = Number(match[2]);
  }
  if (inet === undefined) return { raw: counts };
  return { ruleset: normalizeListing(inet) + (raw !== undefined ? `\n${normalizeListing(raw)}` : ''), raw: counts };
}

/**
 * The allow sets with their elements, as nft lists them: what may pass in block mode. The sentinel records it
 * after every change it makes; an element someone else added (allowing more) shows as a difference.
 */
export async function readAllowSets(privilege: Privilege): Promise<string> {
  const listings: string[] = [];
  for (const set of Object.values(SET_NAMES))
    listings.push((await runCommand(privilege, 'nft', ['-s', 'list', 'set', 'inet', TABLE, set])).stdout.trim());
  return listings.join('\n');
}

export async function addElements(privilege: Privilege, elements: AllowElements): Promise<void> {
  const commands = elementCommands(elements);
  if (commands.length > 0) await runCommand(privilege, 'nft', ['-f', '-'], `${commands.join('\n')}\n`);
}

export interface BlockedDestination {
  address: string;
  protocol: string;
  port: number;
  packets: number;
}

/** Parses `nft -j list set …` of a blocked set: one element per rejected destination, with its packet counter. */
export function parseBlockedSet(json: string): BlockedDestination[] {
  const document = JSON.parse(json) as { nftables?: { set?: { elem?: unknown[] } }[] };
  const blocked: BlockedDestination[] = [];
  for (const item of document.nftables ?? []) {
    for (const element of item.set?.elem ?? []) {
      const elem = (element as { elem?: { val?: { concat?: unknown[] }; counter?: { packets?: number } } }).elem;
      const [address, protocol, port] = elem?.val?.concat ?? [];
      if (typeof address !== 'string' || typeof protocol !== 'string' || typeof port !== 'number') continue;
      blocked.push({ address: address.toLowerCase(), protocol, port, packets: elem?.counter?.packets ?? 0 });
    }
  }
  return blocked;
}

export async function readBlocked(privilege: Privilege): Promise<BlockedDestination[]> {
  const blocked: BlockedDestination[] = [];
  for (const set of ['blocked4', 'blocked6']) {
    const result = await runCommand(privilege, 'nft', ['-j', 'list', 'set', 'inet', TABLE, set]);
    if (result.code === 0) blocked.push(...parseBlockedSet(result.stdout));
  }
  return blocked;
}

/** Removes the table; true when it is gone afterwards. */
export async function removeRuleset(privilege: Privilege): Promise<boolean> {
  // The transaction succeeded: both are gone. Else look (it may have failed for another reason than the table).
  if ((await runCommand(privilege, 'nft', ['-f', '-'], REMOVE_SCRIPT)).code === 0) return true;
  return (await runCommand(privilege, 'nft', ['list', 'table', 'inet', TABLE])).code !== 0;
}
