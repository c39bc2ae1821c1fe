import { isIP } from 'node:net';
import { normalizeAddress, patternMatches, type AllowEntry } from './allow.js';

/**
 * `allowed-names-only`: in block mode with names in the allow-list, the job's DNS goes through the sentinel's
 * forwarder, which answers only allowed names (and lets their addresses through); `any`: the system's resolvers are
 * open on port 53 (`allow-dns`), and a name pattern cannot be enforced.
 */
export type DnsPolicy = 'allowed-names-only' | 'any';

/** Loopback addresses the forwarder tries, in order (the first it can bind on port 53, UDP and TCP). */
export const FORWARDER_ADDRESSES = ['127.0.0.153', '127.0.153.53', '127.53.53.53'];

/** How long past its TTL an answer's addresses stay allowed (a client may use an answer up to its TTL after asking). */
export const GRACE_SECONDS = 30;

/** A query name as matched: lower case, without the trailing dot. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** The host and pattern entries a name is allowed by (a pattern `*.example.com` matches one label or more). */
export function entriesForName(entries: readonly AllowEntry[], name: string): AllowEntry[] {
  const wanted = normalizeName(name);
  return entries.filter(
    (entry) =>
      (entry.kind === 'host' && entry.host === wanted) ||
      (entry.kind === 'pattern' && patternMatches(entry.pattern, wanted)),
  );
}

/** Whether the sentinel runs its DNS forwarder: block mode, policy allowed-names-only, and a name in the allow-list. */
export function usesForwarder(config: {
  mode: 'audit' | 'block';
  dnsPolicy?: DnsPolicy;
  entries: readonly AllowEntry[];
}): boolean {
  return (
    config.mode === 'block' &&
    (config.dnsPolicy ?? 'allowed-names-only') === 'allowed-names-only' &&
    config.entries.some((entry) => entry.kind === 'host' || entry.kind === 'pattern')
  );
}

/**
 * The servers the forwarder asks: resolv.conf's nameservers, or, behind systemd-resolved's stub (127.0.0.53),
 * resolved's own upstream servers. Loopback servers other than that stub (a local dnsmasq) are kept.
 */
export function upstreamServers(resolvConf: string, resolvedUpstream: string): string[] {
  const servers = (text: string) =>
    [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)]
      .map((match) => normalizeAddress(match[1]!.replace(/%.*$/, '')))
      .filter((server) => isIP(server) !== 0);
  const stub = servers(resolvConf);
  const behindResolved: string[] = stub.filter((server) => server === '127.0.0.53' || server === '127.0.0.54');
  const upstream = behindResolved.length > 0 ? servers(resolvedUpstream) : [];
  return [...new Set([...stub.filter((server) => !behindResolved.includes(server)), ...upstream])];
}

/** resolv.conf pointing at the forwarder only: the original's other lines (search, options) kept, nameservers not. */
export function forwarderResolvConf(original: string, forwarder: string): string {
  const kept = original
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^\s*nameserver\s/.test(line) && !/^\s*[#;]/.test(line));
  return [
    '# deploy-gates egress-sentinel: DNS goes through its forwarder until the sentinel stops (then restored)',
    `nameserver ${forwarder}`,
    ...kept,
    '',
  ].join('\n');
}
