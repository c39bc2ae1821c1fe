import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import dnsPacket, { type Answer, type Packet, type Question } from 'dns-packet';
import type { AllowEntry } from './allow.js';
import { addressesFor, agedRecords } from './dns-answer.js';
import { DnsSetWriter, type LearnedAddress } from './dns-nft.js';
import { entriesForName, normalizeName } from './dns-policy.js';
import { askUpstream } from './dns-upstream.js';
import type { Privilege } from './privilege.js';

/** What the monitor hands its forwarder. */
export interface ForwarderConfig {
  address: string;
  upstream: string[];
  entries: AllowEntry[];
  graceSeconds: number;
}

/** A name the forwarder refused (answered NXDOMAIN): a violation carrying the name. */
export interface DnsRefusal {
  name: string;
  type: string;
  count: number;
  firstSeen: string;
}

/** What the forwarder saw, in the monitor's snapshot. */
export interface DnsRecord {
  forwarder: string;
  /** Each allowed name asked for → every address it resolved to during the job. */
  names: Record<string, string[]>;
  refused: DnsRefusal[];
  /** Distinct refused names beyond the first MAX_REFUSED (counted, not listed). */
  refusedMore: number;
  /** Queries it could not answer (no upstream answer, nft failed): SERVFAIL, the first few kept. */
  problems: string[];
}

const MAX_REFUSED = 1_000;
const RCODE = { FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3 } as const;
/** Answers are cached for at most this long (their TTL when lower). */
const MAX_CACHE_SECONDS = 300;
const TCP_IDLE_MS = 10_000;

/** A name as the report shows it: printable ASCII, anything else as `\NNN` (DNS's own escape), at most 300 characters. */
export function printableName(name: string): string {
  const text = [...name].map((c) => (/^[\x21-\x7e]$/.test(c) ? c : `\\${c.codePointAt(0)}`)).join('');
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

interface Cached {
  response: Packet;
  at: number;
  until: number;
  /** The last reply built from it, and for which query shape and age: a repeat only gets the query's id. */
  encoded?: { shape: string; reply: Buffer };
}

/**
 * The sentinel's DNS forwarder on a loopback address (UDP and TCP, port 53), run by the monitor as root. A query for
 * an allowed name is asked upstream; the A/AAAA addresses its answer (through any CNAME chain) leads to are added to
 * the nft sets, with the answer's TTL plus a grace, before the answer is returned. Any other name is answered
 * NXDOMAIN and recorded. Answers are cached for their TTL (a cached answer's addresses are still in the sets).
 */
export class DnsForwarder {
  readonly record: DnsRecord;
  private readonly writer: DnsSetWriter;
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<string, Promise<Packet>>();
  /** Each set element's expiry (ms), as last written. */
  private readonly expiry = new Map<string, number>();
  private udp?: Socket;
  private tcp?: Server;

  constructor(
    private readonly config: ForwarderConfig,
    privilege: Privilege,
    private readonly changed: () => void,
  ) {
    this.writer = new DnsSetWriter(privilege);
    this.record = { forwarder: config.address, names: {}, refused: [], refusedMore: 0, problems: [] };
  }

  /** Listens on the address's port 53, UDP and TCP (rejects when it cannot). */
  async start(): Promise<void> {
    const udp = createSocket({ type: 'udp4', reuseAddr: false });
    this.udp = udp;
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(53, this.config.address, () => (udp.off('error', reject), resolve()));
    });
    udp.on('error', (error) => this.problem(`its UDP socket failed: ${error.message}`));
    udp.on('message', (message, from) => {
      void this.answer(message, 'udp').then((reply) => reply && udp.send(reply, from.port, from.address));
    });
    this.tcp = createServer({ pauseOnConnect: false }, (socket) => {
      let buffered = Buffer.alloc(0);
      let queue = Promise.resolve();
      socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
      socket.on('error', () => socket.destroy());
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const message = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
          buffered = buffered.subarray(2 + message.length);
          queue = queue.then(async () => {
            const reply = await this.answer(message, 'tcp');
            if (!reply || socket.destroyed) return;
            const length = Buffer.alloc(2);
            length.writeUInt16BE(reply.length);
            socket.write(Buffer.concat([length, reply]));
          });
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.tcp!.once('error', reject);
      this.tcp!.listen({ port: 53, host: this.config.address, backlog: 128 }, resolve);
    });
  }

  stop(): void {
    this.udp?.close();
    this.tcp?.close();
    this.writer.close();
  }

  /** The reply to one query message (undefined: not a query worth answering). */
  async answer(message: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    let query: Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return message.length >= 2 ? errorReply(message.readUInt16BE(0), undefined, RCODE.FORMERR) : undefined;
    }
    const question = query.questions?.[0];
    if (query.type !== 'query' || query.questions?.length !== 1 || !question)
      return errorReply(query.id ?? 0, query, RCODE.FORMERR);
    const name = normalizeName(question.name);
    const entries = entriesForName(this.config.entries, name);
    if (entries.length === 0) {
      this.refuse(name, question.type);
      return errorReply(query.id ?? 0, query, RCODE.NXDOMAIN);
    }
    try {
      const cached = await this.resolve(question, entries);
      const age = Math.floor((Date.now() - cached.at) / 1000);
      const opt = query.additionals?.find((record) => record.type === 'OPT') as { udpPayloadSize?: number } | undefined;
      // Same name bytes, flags, EDNS size, transport and age in seconds: the same reply but for its id.
      const shape = `${question.name}|${query.flags}|${opt?.udpPayloadSize ?? '-'}|${transport}|${age}`;
      if (cached.encoded?.shape !== shape)
        cached.encoded = { shape, reply: reply(query, cached.response, age, transport) };
      const bytes = Buffer.from(cached.encoded.reply);
      bytes.writeUInt16BE(query.id ?? 0, 0);
      return bytes;
    } catch (error) {
      this.problem(`no answer for ${printableName(name)} (SERVFAIL): ${(error as Error).message}`);
      return errorReply(query.id ?? 0, query, RCODE.SERVFAIL);
    }
  }

  /** A cached answer, or one asked upstream whose addresses are in the sets before it is given. */
  private async resolve(question: Question, entries: AllowEntry[]): Promise<Cached> {
    const key = `${normalizeName(question.name)} ${question.type} ${question.class ?? 'IN'}`;
    const cached = this.cache.get(key);
    if (cached && cached.until > Date.now()) return cached;
    let asking = this.pending.get(key);
    if (!asking) {
      asking = askUpstream(this.config.upstream, question).then(async (response) => {
        await this.allow(question, response, entries);
        return response;
      });
      this.pending.set(key, asking);
      void asking.then(
        () => this.pending.delete(key),
        () => this.pending.delete(key),
      );
    }
    const response = await asking;
    const at = Date.now();
    const ttl = Math.min(
      MAX_CACHE_SECONDS,
      ...(response.answers ?? []).map((record) => (record.type === 'OPT' ? MAX_CACHE_SECONDS : (record.ttl ?? 0))),
    );
    const fresh: Cached = { response, at, until: at + ttl * 1000 };
    if ((response.answers?.length ?? 0) > 0 && ttl > 0) this.cache.set(key, fresh);
    return fresh;
  }

  /** Puts the addresses the answer leads to in the sets (for each allowing entry's port) and records them. */
  private async allow(question: Question, response: Packet, entries: AllowEntry[]): Promise<void> {
    if (question.type !== 'A' && question.type !== 'AAAA') return;
    const name = normalizeName(question.name);
    const { addresses, ttl } = addressesFor(response, name);
    const seconds = ttl + this.config.graceSeconds;
    const needed: LearnedAddress[] = [];
    for (const address of addresses)
      for (const entry of entries) {
        const item = { address, port: entry.port, seconds };
        const element = `${address} ${entry.port ?? '*'}`;
        // Still there for longer than a client may use this answer: nothing to write.
        if ((this.expiry.get(element) ?? 0) > Date.now() + (ttl + 1) * 1000) continue;
        needed.push(item);
        this.expiry.set(element, Date.now() + seconds * 1000);
      }
    await this.writer.add(needed);
    const known = new Set(this.record.names[name] ?? []);
    for (const address of addresses) known.add(address);
    this.record.names[name] = [...known];
    this.changed();
  }

  private problem(text: string): void {
    if (this.record.problems.length < 20) this.record.problems.push(`${new Date().toISOString()} ${text}`);
    this.changed();
  }

  private refuse(name: string, type: string): void {
    const shown = printableName(name);
    const known = this.record.refused.find((item) => item.name === shown && item.type === type);
    if (known) known.count++;
    else if (this.record.refused.length >= MAX_REFUSED) this.record.refusedMore++;
    else this.record.refused.push({ name: shown, type, count: 1, firstSeen: new Date().toISOString() });
    this.changed();
  }
}

/** A reply with no records and an error code, echoing the query's question. */
function errorReply(id: number, query: Packet | undefined, rcode: number): Buffer {
  const recursion = (query?.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
  return dnsPacket.encode({
    type: 'response',
    id,
    flags: recursion | dnsPacket.RECURSION_AVAILABLE | rcode,
    questions: query?.questions ?? [],
  });
}

/** The upstream answer as a reply to the client's query: its id and question, TTLs aged, sized for UDP. */
function reply(query: Packet, response: Packet, elapsedSeconds: number, transport: 'udp' | 'tcp'): Buffer {
  const opt = query.additionals?.find((record) => record.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  const limit = transport === 'tcp' ? 65_535 : Math.max(512, Math.min(opt?.udpPayloadSize ?? 512, 4096));
  const rcode = (response.flags ?? 0) & 0xf;
  const flags = ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | rcode;
  const additionals: Answer[] = [
    ...agedRecords(
      response.additionals?.filter((record) => record.type !== 'OPT'),
      Math.floor(elapsedSeconds),
    ),
    ...(opt ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as never] : []),
  ];
  const full = dnsPacket.encode({
    type: 'response',
    id: query.id,
    flags,
    questions: query.questions,
    answers: agedRecords(response.answers, Math.floor(elapsedSeconds)),
    authorities: agedRecords(response.authorities, Math.floor(elapsedSeconds)),
    additionals,
  });
  if (full.length <= limit) return full;
  // Too large for the client's UDP: truncated, so that it asks again over TCP.
  return dnsPacket.encode({
    type: 'response',
    id: query.id,
    flags: flags | dnsPacket.TRUNCATED_RESPONSE,
    questions: query.questions,
  });
}

/** Starts the forwarder on the first of the loopback addresses it can bind (port 53, UDP and TCP). */
export async function startForwarder(
  config: Omit<ForwarderConfig, 'address'>,
  addresses: readonly string[],
  privilege: Privilege,
  changed: () => void,
): Promise<DnsForwarder> {
  const problems: string[] = [];
  for (const address of addresses) {
    const forwarder = new DnsForwarder({ ...config, address }, privilege, changed);
    try {
      await forwarder.start();
      return forwarder;
    } catch (error) {
      forwarder.stop();
      problems.push(`${address}: ${(error as Error).message}`);
    }
  }
  throw new Error(`the DNS forwarder could not listen on port 53 (${problems.join('; ')})`);
}
