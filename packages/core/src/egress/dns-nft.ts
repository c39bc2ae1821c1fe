import { isIP } from 'node:net';
import { NftSession } from './dns-nft-session.js';
import { runCommand, type Privilege } from './privilege.js';
import { TABLE_REF } from './tables.js';

/**
 * The DNS forwarder's part of the sentinel's table (block mode, `dns-policy: allowed-names-only`). Addresses an
 * allowed name resolved to go into sets whose elements expire (the answer's TTL plus a grace); a connection let
 * through by them gets a conntrack mark, and packets of a marked connection pass until it ends, so an address that
 * expires never cuts a flow that uses it.
 */
export const DNS_FLOW_MARK = '0x20000000';

export const DNS_SETS = [
  '  set dns4 { type ipv4_addr . inet_service; flags timeout; }',
  '  set dns6 { type ipv6_addr . inet_service; flags timeout; }',
  '  set dns4any { type ipv4_addr; flags timeout; }',
  '  set dns6any { type ipv6_addr; flags timeout; }',
];

export interface DnsRuleOptions {
  /** The forwarder's loopback address (port 53). */
  forwarder: string;
  /** The resolvers it asks (port 53), reachable by root's sockets only: the forwarder's. */
  upstream: readonly string[];
}

const mark = `ct mark set ct mark | ${DNS_FLOW_MARK} accept`;

/** The rules for a hook, placed before the allow sets; in the output hook also the forwarder's own traffic. */
export function dnsRules(hook: 'output' | 'forward', options: DnsRuleOptions): string[] {
  const upstream4 = options.upstream.filter((server) => isIP(server) === 4);
  const upstream6 = options.upstream.filter((server) => isIP(server) === 6);
  return [
    `ct mark & ${DNS_FLOW_MARK} == ${DNS_FLOW_MARK} accept`,
    ...(hook === 'output'
      ? [
          `oifname "lo" ip daddr ${options.forwarder} meta l4proto { tcp, udp } th dport 53 accept`,
          ...(upstream4.length
            ? [`meta skuid 0 meta l4proto { tcp, udp } ip daddr { ${upstream4.join(', ')} } th dport 53 accept`]
            : []),
          ...(upstream6.length
            ? [`meta skuid 0 meta l4proto { tcp, udp } ip6 daddr { ${upstream6.join(', ')} } th dport 53 accept`]
            : []),
        ]
      : []),
    `ip daddr @dns4any ${mark}`,
    `ip6 daddr @dns6any ${mark}`,
    `meta l4proto { tcp, udp } ip daddr . th dport @dns4 ${mark}`,
    `meta l4proto { tcp, udp } ip6 daddr . th dport @dns6 ${mark}`,
  ];
}

/** An address an answer allowed: any port, or one port; for `seconds`. */
export interface LearnedAddress {
  address: string;
  port?: number;
  seconds: number;
}

function element(item: LearnedAddress): { set: string; key: string } {
  const family = isIP(item.address) === 6 ? 6 : 4;
  return item.port === undefined
    ? { set: `dns${family}any`, key: item.address }
    : { set: `dns${family}`, key: `${item.address} . ${item.port}` };
}

/**
 * One transaction that sets each element's timeout: add (a no-op when it is there), delete, add again with the new
 * timeout — all or nothing, so an element never goes missing in between.
 */
export function learnCommands(items: readonly LearnedAddress[]): string[] {
  return items.flatMap((item) => {
    const { set, key } = element(item);
    const seconds = Math.max(1, Math.ceil(item.seconds));
    return [
      `add element ${TABLE_REF} ${set} { ${key} timeout ${seconds}s }`,
      `delete element ${TABLE_REF} ${set} { ${key} }`,
      `add element ${TABLE_REF} ${set} { ${key} timeout ${seconds}s }`,
    ];
  });
}

/**
 * Adds learned addresses to the sets, batching what arrives while `nft` runs into its next call; a caller's promise
 * settles once its addresses are in the kernel (or rejects with nft's error).
 */
export class DnsSetWriter {
  private queue: { items: LearnedAddress[]; done: (error?: Error) => void }[] = [];
  private running = false;
  private readonly session: NftSession;

  constructor(private readonly privilege: Privilege) {
    this.session = new NftSession(privilege.prefix);
  }

  close(): void {
    this.session.close();
  }

  add(items: LearnedAddress[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ items, done: (error) => (error ? reject(error) : resolve()) });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const commands = learnCommands(batch.flatMap((b) => b.items));
      for (const waiting of batch) waiting.done(await this.write(commands));
    }
    this.running = false;
  }

  /** Through the long-lived nft; when that fails, once more by `nft -f` (the commands are idempotent). */
  private async write(commands: string[]): Promise<Error | undefined> {
    try {
      await this.session.run(commands);
      return undefined;
    } catch {
      const result = await runCommand(this.privilege, 'nft', ['-f', '-'], `${commands.join('\n')}\n`);
      return result.code === 0 ? undefined : new Error(`nft could not add resolved addresses: ${result.stderr.trim()}`);
    }
  }
}
