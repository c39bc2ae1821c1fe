import { BlockList, isIP } from 'node:net';
import type { LineResult } from '../units/lists.js';

/**
 * The allow-list of egress-sentinel, one entry per line:
 *   `host:port`, `host` (any port), `*.example.com:443` (a name pattern), `203.0.113.0/24:5432`, `203.0.113.7`,
 *   `[2001:db8::1]:443`, `[2001:db8::/32]`, `2001:db8::1` (a bare IPv6 address has no port).
 * A port is a number from 1 to 65535; none (or `*`) means any port. The port applies to TCP and UDP.
 */
export type AllowEntry =
  | { kind: 'network'; text: string; address: string; prefix: number; family: 4 | 6; port?: number }
  | { kind: 'host'; text: string; host: string; port?: number }
  | { kind: 'pattern'; text: string; pattern: string; port?: number };

const HOST = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;
const PATTERN = /^\*\.([a-z0-9_-]+\.)*[a-z0-9_-]+$/i;
const ENTRY_HINT = 'write host:port, host, *.example.com:443, 203.0.113.0/24:5432 or [2001:db8::1]:443';

function parsePort(text: string | undefined): number | undefined | 'bad' {
  if (text === undefined || text === '*') return undefined;
  if (!/^\d{1,5}$/.test(text)) return 'bad';
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : 'bad';
}

/** An IPv4-mapped IPv6 address (`::ffff:198.51.100.7`, `::ffff:c633:6407`, written out in full or not). */
const MAPPED = /^(?:::|(?:0{1,4}:){5})ffff:(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i;

/** The IPv4 address an IPv4-mapped IPv6 address stands for, else undefined. */
function mappedIPv4(address: string): string | undefined {
  const match = MAPPED.exec(address);
  if (!match) return undefined;
  if (match[1]) return isIP(match[1]) === 4 ? match[1] : undefined;
  const [high, low] = [parseInt(match[2]!, 16), parseInt(match[3]!, 16)];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

function network(text: string, spec: string, port: number | undefined): AllowEntry | undefined {
  const [address, prefixText, extra] = spec.split('/');
  if (extra !== undefined || address === undefined) return undefined;
  const family = isIP(address);
  if (family !== 4 && family !== 6) return undefined;
  const max = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  // Destinations are seen as IPv4 (see normalizeAddress): so is a mapped entry, down to a mapped /96.
  const mapped = family === 6 && prefix >= 96 ? mappedIPv4(address) : undefined;
  if (mapped) return { kind: 'network', text, address: mapped, prefix: prefix - 96, family: 4, port };
  return { kind: 'network', text, address: address.toLowerCase(), prefix, family, port };
}

export function parseAllowEntry(line: string): LineResult<AllowEntry> {
  const text = line.trim();
  const bad = (why: string) => ({ problem: `"${text}" ${why}; ${ENTRY_HINT}` });
  let spec: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) [, spec, portText] = bracketed as unknown as [string, string, string | undefined];
  else if ((text.match(/:/g) ?? []).length > 1)
    spec = text; // a bare IPv6 address or network: no port
  else [spec, portText] = text.split(':') as [string, string | undefined];
  const port = parsePort(portText);
  if (port === 'bad') return bad(`has port "${portText}", which is not a number from 1 to 65535`);
  if (bracketed || /^[\d.]+(\/\d+)?$/.test(spec) || spec.includes(':')) {
    const entry = network(text, spec, port);
    return entry ? { value: entry } : bad('is not an IPv4/IPv6 address or network');
  }
  if (spec.includes('*'))
    return PATTERN.test(spec)
      ? { value: { kind: 'pattern', text, pattern: spec.toLowerCase(), port } }
      : bad('is not a name pattern (only a leading "*." is allowed)');
  if (!HOST.test(spec)) return bad('is not a host name');
  return { value: { kind: 'host', text, host: spec.toLowerCase().replace(/\.$/, ''), port } };
}

/** A name matches `*.example.com` when it ends in `.example.com` (any depth), not `example.com` itself. */
export function patternMatches(pattern: string, name: string): boolean {
  return name.toLowerCase().replace(/\.$/, '').endsWith(pattern.slice(1));
}

export type Protocol = 'tcp' | 'udp' | string;

/** What a destination is matched against: the entries, the addresses each name resolved to (ever), names known for an address. */
export interface AllowContext {
  entries: readonly AllowEntry[];
  /** name → every address it resolved to while the job ran. */
  resolved: ReadonlyMap<string, readonly string[]>;
  /** DNS servers allowed on port 53 (allow-dns), and whether loopback is allowed. */
  dnsServers: readonly string[];
  allowLoopback: boolean;
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

function familyName(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

/** `::ffff:1.2.3.4` (an IPv4 peer of an IPv6 socket) as `1.2.3.4`; IPv6 lower-case. */
export function normalizeAddress(address: string): string {
  return mappedIPv4(address) ?? address.toLowerCase();
}

export function isLoopback(address: string): boolean {
  return loopback.check(normalizeAddress(address), familyName(normalizeAddress(address)));
}

function inNetwork(entry: Extract<AllowEntry, { kind: 'network' }>, address: string): boolean {
  if (isIP(address) !== entry.family) return false;
  const list = new BlockList();
  list.addSubnet(entry.address, entry.prefix, entry.family === 4 ? 'ipv4' : 'ipv6');
  return list.check(address, familyName(address));
}

/** Names known for an address: allowed names that resolved to it. */
export function namesFor(address: string, resolved: ReadonlyMap<string, readonly string[]>): string[] {
  return [...resolved].filter(([, addresses]) => addresses.includes(address)).map(([name]) => name);
}

/** Whether a connection to address:port is allowed; `names` adds names known from elsewhere (a reverse lookup). */
export function isAllowed(
  context: AllowContext,
  address: string,
  port: number,
  protocol: Protocol,
  names: readonly string[] = [],
): boolean {
  const target = normalizeAddress(address);
  if (context.allowLoopback && isLoopback(target)) return true;
  if (port === 53 && (protocol === 'udp' || protocol === 'tcp') && context.dnsServers.includes(target)) return true;
  const known = [...namesFor(target, context.resolved), ...names];
  return context.entries.some((entry) => {
    if (entry.port !== undefined && entry.port !== port) return false;
    if (entry.kind === 'network') return inNetwork(entry, target);
    if (entry.kind === 'host')
      return entry.host === target || (context.resolved.get(entry.host) ?? []).includes(target);
    return known.some((name) => patternMatches(entry.pattern, name));
  });
}

/** The system's DNS servers: resolv.conf's nameservers, and systemd-resolved's upstream ones when it is the stub. */
export function dnsServersFrom(resolvConf: string, resolvedUpstream = ''): string[] {
  const servers = (text: string) =>
    [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((match) => normalizeAddress(match[1]!.replace(/%.*$/, '')));
  const stub = servers(resolvConf);
  return [
    ...new Set([...stub, ...(stub.some((server) => server.startsWith('127.')) ? servers(resolvedUpstream) : [])]),
  ];
}
