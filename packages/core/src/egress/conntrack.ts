/** One new connection as `conntrack -E -e NEW -o timestamp,extended` (or `conntrack -L -o extended`) prints it. */
export interface ConnectionEvent {
  /** Milliseconds since the epoch. */
  time: number;
  family: 4 | 6;
  protocol: string;
  source: string;
  /** Where the packets really go: the reply direction's source, which NAT (DNAT) may have changed. */
  destination: string;
  sourcePort: number;
  /** 0 for protocols without ports (ICMP); the reply direction's source port. */
  port: number;
  /** The destination the process asked for, when NAT sent the flow elsewhere (`address:port`). */
  natFrom?: string;
}

const LINE = /^\s*(?:\[(\d+)\.(\d+)\])?\s*(\[NEW\]\s+)?(ipv4|ipv6)\s+\d+\s+([a-z0-9-]+)\s+\d+\s+(.*)$/i;

/** Every value of a field (`src=`, `dst=`, …) in order: the original direction's first, then the reply's. */
function fields(rest: string, name: string): string[] {
  return [...rest.matchAll(new RegExp(`(?:^|\\s)${name}=(\\S+)`, 'g'))].map((match) => match[1]!);
}

/**
 * Parses one line of `conntrack -E -e NEW -o timestamp,extended`, e.g.
 * `[1795455692.306292]	    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=198.18.1.1 dst=198.18.1.2 sport=46824 dport=8080 [UNREPLIED] src=…`,
 * or (`listing`) of `conntrack -L -o extended` (no `[NEW]`). The first src/dst/sport/dport are the original
 * direction (who connected to whom); the reply direction's src/sport are where the flow really went. Other lines
 * (the closing "N flow events have been shown.") give undefined.
 */
export function parseConntrackLine(line: string, now = Date.now(), listing = false): ConnectionEvent | undefined {
  const match = LINE.exec(line);
  if (!match || (!listing && !match[3])) return undefined;
  const [, seconds, fraction, , family, protocol, rest] = match as unknown as (string | undefined)[];
  const [source, replySource] = fields(rest!, 'src');
  const destination = fields(rest!, 'dst')[0];
  if (!source || !destination) return undefined;
  const [sourcePort, askedPort] = [fields(rest!, 'sport'), fields(rest!, 'dport')].map((list) => list[0]);
  const replyPort = fields(rest!, 'sport')[1];
  const asked = { address: destination.toLowerCase(), port: Number(askedPort ?? 0) };
  // ICMP has no ports; a reply tuple is missing only in odd output: then the original is all there is.
  const real = { address: (replySource ?? destination).toLowerCase(), port: Number(replyPort ?? askedPort ?? 0) };
  const nat = real.address !== asked.address || real.port !== asked.port;
  const time = seconds === undefined ? now : Number(seconds) * 1000 + Math.floor(Number(`0.${fraction}`) * 1000);
  return {
    time,
    family: family!.toLowerCase() === 'ipv6' ? 6 : 4,
    protocol: protocol!.toLowerCase(),
    source: source.toLowerCase(),
    destination: real.address,
    sourcePort: Number(sourcePort ?? 0),
    port: real.port,
    ...(nat ? { natFrom: `${asked.address.includes(':') ? `[${asked.address}]` : asked.address}:${asked.port}` } : {}),
  };
}
