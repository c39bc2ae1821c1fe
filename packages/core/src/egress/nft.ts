import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import type { AllowEntry } from './allow.js';

/** The sentinel's own nftables table; nothing else in the ruleset is touched. */
export const TABLE = 'deploy_gates_egress';
export const TABLE_REF = `inet ${TABLE}`;

/** Runs a command with the privilege the sentinel has: directly as root, else through `sudo -n`. */
export interface Privilege {
  /** `[]` as root, `['sudo', '-n']` with passwordless sudo. */
  prefix: readonly string[];
}

export function runCommand(
  privilege: Privilege,
  command: string,
  args: readonly string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [file, ...rest] = [...privilege.prefix, command, ...args];
  return new Promise((resolve) => {
    const child = execFile(file!, rest, { maxBuffer: 64 * 1024 * 1024, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error
        ? typeof (error as { code?: unknown }).code === 'number'
          ? (error as { code: number }).code
          : 127
        : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The elements of the allow sets: `addr` or `addr/prefix` for any port, `addr . port` for one port, per family. */
export interface AllowElements {
  any4: string[];
  any6: string[];
  port4: string[];
  port6: string[];
}

export function emptyElements(): AllowElements {
  return { any4: [], any6: [], port4: [], port6: [] };
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
): AllowElements {
  const elements = emptyElements();
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
};

/** `add element …` lines for the elements given (none for an empty list). */
export function elementCommands(elements: AllowElements): string[] {
  return (Object.keys(SET_NAMES) as (keyof AllowElements)[])
    .filter((key) => elements[key].length > 0)
    .map((key) => `add element ${TABLE_REF} ${SET_NAMES[key]} { ${elements[key].join(', ')} }`);
}

export interface RulesetOptions {
  mode: 'audit' | 'block';
  allowLoopback: boolean;
  /** Written into the table's comment: the table the post step finds must be this one. */
  marker: string;
}

/**
 * The sentinel's table. In both modes it makes the kernel track every new connection (a `ct state new` rule: without
 * one a network namespace may not track connections at all, and conntrack reports nothing). In block mode the output
 * and forward hooks (the job's own processes, and containers behind a bridge) accept what is allowed and reject the
 * rest fast: TCP with a reset, anything else with an ICMP "administratively prohibited"; each rejected TCP/UDP
 * destination is counted in a dynamic set.
 */
export function rulesetScript(options: RulesetOptions, elements: AllowElements): string {
  const chain = (hook: 'output' | 'forward') => {
    const rules = ['ct state new counter'];
    if (options.mode === 'block') {
      rules.push(
        'ct state established,related accept',
        ...(options.allowLoopback && hook === 'output' ? ['oifname "lo" accept'] : []),
        // Neighbour discovery and DHCP keep the machine's own network working.
        'meta l4proto ipv6-icmp icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept',
        'udp dport { 67, 547 } accept',
        'ip daddr @allow4any accept',
        'ip6 daddr @allow6any accept',
        'meta l4proto { tcp, udp } ip daddr . th dport @allow4 accept',
        'meta l4proto { tcp, udp } ip6 daddr . th dport @allow6 accept',
        'meta l4proto { tcp, udp } update @blocked4 { ip daddr . meta l4proto . th dport }',
        'meta l4proto { tcp, udp } update @blocked6 { ip6 daddr . meta l4proto . th dport }',
        'meta l4proto tcp reject with tcp reset',
        'reject with icmpx admin-prohibited',
      );
    }
    return [
      `  chain ${hook} {`,
      `    type filter hook ${hook} priority filter; policy accept;`,
      ...rules.map((rule) => `    ${rule}`),
      '  }',
    ];
  };
  const sets =
    options.mode === 'block'
      ? [
          '  set allow4any { type ipv4_addr; flags interval; }',
          '  set allow6any { type ipv6_addr; flags interval; }',
          '  set allow4 { type ipv4_addr . inet_service; flags interval; }',
          '  set allow6 { type ipv6_addr . inet_service; flags interval; }',
          '  set blocked4 { type ipv4_addr . inet_proto . inet_service; size 65535; flags dynamic; counter; }',
          '  set blocked6 { type ipv6_addr . inet_proto . inet_service; size 65535; flags dynamic; counter; }',
        ]
      : [];
  return [
    `table ${TABLE_REF} {`,
    `  comment "deploy-gates egress-sentinel ${options.marker}"`,
    ...sets,
    ...chain('output'),
    ...chain('forward'),
    '}',
    ...(options.mode === 'block' ? elementCommands(elements) : []),
    '',
  ].join('\n');
}

/**
 * The table as `nft -s list table` prints it (no counter values), without set elements: the allow sets grow while
 * hostnames are re-resolved and the blocked sets fill, but the rules, sets and marker must stay as installed.
 */
export function normalizeListing(listing: string): string {
  return listing
    .replace(/\s*elements = \{[^}]*\}/g, '')
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '')
    .join('\n');
}

/**
 * Installs the table, replacing one already there (an earlier phase's, or one left by a crashed job) in the same
 * transaction: `nft -f` applies a script all or nothing, so connections are tracked without a gap.
 */
export async function installRuleset(privilege: Privilege, script: string): Promise<void> {
  const replace = `table ${TABLE_REF}\ndelete table ${TABLE_REF}\n${script}`;
  const result = await runCommand(privilege, 'nft', ['-f', '-'], replace);
  if (result.code !== 0)
    throw new Error(`nft could not install the egress rules: ${result.stderr.trim() || `exit code ${result.code}`}`);
}

/** The table as it is now (normalized), or undefined when it is gone. */
export async function readRuleset(privilege: Privilege): Promise<string | undefined> {
  const result = await runCommand(privilege, 'nft', ['-s', 'list', 'table', 'inet', TABLE]);
  return result.code === 0 ? normalizeListing(result.stdout) : undefined;
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
  await runCommand(privilege, 'nft', ['delete', 'table', 'inet', TABLE]);
  return (await runCommand(privilege, 'nft', ['list', 'table', 'inet', TABLE])).code !== 0;
}
