import { isIP } from 'node:net';
import type { Answer, Packet } from 'dns-packet';
import { normalizeAddress } from './allow.js';
import { normalizeName } from './dns-policy.js';

/** What an answer lets through: the A/AAAA addresses at the end of the name's CNAME chain, and for how long. */
export interface AnswerAddresses {
  addresses: string[];
  /** The lowest TTL along the chain (seconds). */
  ttl: number;
  /** The names the chain went through after the one asked for (`cdn.example.net` for a CNAME). */
  chain: string[];
}

/** CNAMEs followed at most (a loop or an absurd chain ends there). */
const MAX_CHAIN = 16;

/**
 * The addresses `name` resolved to in a response: its A/AAAA records, or those of the name its CNAME chain leads to.
 * Only records on that chain count: an extra record for some other name in the answer section allows nothing.
 */
export function addressesFor(response: Packet, name: string): AnswerAddresses {
  const answers = (response.answers ?? []).filter((answer): answer is Answer & { ttl?: number; data: unknown } =>
    ['A', 'AAAA', 'CNAME'].includes(answer.type),
  );
  let current = normalizeName(name);
  let ttl = Number.POSITIVE_INFINITY;
  const chain: string[] = [];
  for (let step = 0; step <= MAX_CHAIN; step++) {
    const cname = answers.find((answer) => answer.type === 'CNAME' && normalizeName(answer.name) === current);
    if (!cname || typeof cname.data !== 'string') break;
    ttl = Math.min(ttl, cname.ttl ?? 0);
    current = normalizeName(cname.data);
    if (chain.includes(current)) break;
    chain.push(current);
  }
  const addresses: string[] = [];
  for (const answer of answers) {
    if (answer.type === 'CNAME' || normalizeName(answer.name) !== current || typeof answer.data !== 'string') continue;
    if (isIP(answer.data) !== (answer.type === 'A' ? 4 : 6)) continue;
    addresses.push(normalizeAddress(answer.data));
    ttl = Math.min(ttl, answer.ttl ?? 0);
  }
  return { addresses: [...new Set(addresses)], ttl: Number.isFinite(ttl) ? ttl : 0, chain };
}

/** The response's records with their TTLs lowered by the seconds they spent in the forwarder's cache. */
export function agedRecords(records: readonly Answer[] | undefined, elapsedSeconds: number): Answer[] {
  return (records ?? []).map((record) =>
    record.type === 'OPT' ? record : { ...record, ttl: Math.max(0, (record.ttl ?? 0) - elapsedSeconds) },
  ) as Answer[];
}
