/** One new connection as `conntrack -E -e NEW -o timestamp,extended` prints it (the original direction). */
export interface ConnectionEvent {
  /** Milliseconds since the epoch. */
  time: number;
  family: 4 | 6;
  protocol: string;
  source: string;
  destination: string;
  sourcePort: number;
  /** 0 for protocols without ports (ICMP). */
  port: number;
}

/**
 * Parses one line of `conntrack -E -e NEW -o timestamp,extended`, e.g.
 * `[1795455692.306292]	    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=198.18.1.1 dst=198.18.1.2 sport=46824 dport=8080 [UNREPLIED] src=…`.
 * The first src/dst/sport/dport are the original direction (who connected to whom). Other lines (the closing
 * "N flow events have been shown.") give undefined.
 */
export function parseConntrackLine(line: string, now = Date.now()): ConnectionEvent | undefined {
  const match = /^\s*(?:\[(\d+)\.(\d+)\])?\s*\[NEW\]\s+(ipv4|ipv6)\s+\d+\s+([a-z0-9-]+)\s+\d+\s+(.*)$/i.exec(line);
  if (!match) return undefined;
  const [, seconds, fraction, family, protocol, rest] = match as unknown as [
    string,
    string | undefined,
    string | undefined,
    string,
    string,
    string,
  ];
  const field = (name: string) => new RegExp(`(?:^|\\s)${name}=(\\S+)`).exec(rest)?.[1];
  const source = field('src');
  const destination = field('dst');
  if (!source || !destination) return undefined;
  const time = seconds === undefined ? now : Number(seconds) * 1000 + Math.floor(Number(`0.${fraction}`) * 1000);
  return {
    time,
    family: family.toLowerCase() === 'ipv6' ? 6 : 4,
    protocol: protocol.toLowerCase(),
    source: source.toLowerCase(),
    destination: destination.toLowerCase(),
    sourcePort: Number(field('sport') ?? 0),
    port: Number(field('dport') ?? 0),
  };
}
