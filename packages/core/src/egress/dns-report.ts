import type { AllowEntry } from './allow.js';
import type { DnsRecord } from './dns-forwarder.js';
import { entriesForName } from './dns-policy.js';
import type { Violation } from './report.js';

/** Each name the forwarder refused, as a violation carrying the name (NXDOMAIN: nothing was resolved or sent). */
export function dnsViolations(record: DnsRecord | undefined): Violation[] {
  return (record?.refused ?? []).map((item) => ({
    address: record!.forwarder,
    port: 53,
    protocol: 'dns',
    name: item.name,
    'query-type': item.type,
    'first-seen': item.firstSeen,
    count: item.count,
    blocked: true,
  }));
}

/** The names an entry allowed that were asked for during the job, each with every address it resolved to. */
export function namesOfEntry(
  entry: AllowEntry,
  names: Record<string, string[]> | undefined,
): { name: string; addresses: string[] }[] {
  return Object.entries(names ?? {})
    .filter(([name]) => entriesForName([entry], name).length > 0)
    .map(([name, addresses]) => ({ name, addresses }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
