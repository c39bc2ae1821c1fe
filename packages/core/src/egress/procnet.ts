import { readFileSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';

/** One socket of /proc/net/{tcp,tcp6,udp,udp6}. */
export interface ProcSocket {
  protocol: 'tcp' | 'udp';
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** The kernel's state number (TCP: 1 ESTABLISHED, 2 SYN_SENT, 6 TIME_WAIT, 10 LISTEN …; UDP: 1 connected, 7 unconnected). */
  state: number;
  inode: number;
}

/** `0100007F` (little-endian IPv4) or 32 hex digits (four little-endian words) → the address as text. */
export function decodeAddress(hex: string): string {
  if (hex.length === 8) {
    const bytes = Buffer.from(hex, 'hex').reverse();
    return [...bytes].join('.');
  }
  const words: number[] = [];
  for (let i = 0; i < 32; i += 8) words.push(Buffer.from(hex.slice(i, i + 8), 'hex').readUInt32LE(0));
  const groups: string[] = [];
  for (const word of words) groups.push(((word >>> 16) & 0xffff).toString(16), (word & 0xffff).toString(16));
  const mapped = groups.slice(0, 5).every((group) => group === '0') && groups[5] === 'ffff';
  if (mapped) return `::ffff:${[...Buffer.from(hex.slice(24), 'hex').reverse()].join('.')}`;
  // The shortest form: the longest run of zero groups becomes `::`.
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i };
    i = j;
  }
  if (best.start < 0) return groups.join(':');
  return `${groups.slice(0, best.start).join(':')}::${groups.slice(best.start + best.length).join(':')}`;
}

/** Parses the text of /proc/net/tcp, tcp6, udp or udp6 (header line first). */
export function parseProcNet(text: string, protocol: 'tcp' | 'udp'): ProcSocket[] {
  const sockets: ProcSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const [local, remote] = [fields[1]!, fields[2]!].map((pair) => pair.split(':') as [string, string]);
    sockets.push({
      protocol,
      localAddress: decodeAddress(local![0]),
      localPort: parseInt(local![1], 16),
      remoteAddress: decodeAddress(remote![0]),
      remotePort: parseInt(remote![1], 16),
      state: parseInt(fields[3]!, 16),
      inode: Number(fields[9]),
    });
  }
  return sockets;
}

const FILES = [
  ['tcp', 'tcp'],
  ['tcp6', 'tcp'],
  ['udp', 'udp'],
  ['udp6', 'udp'],
] as const;

/**
 * Every socket of this network namespace that has a peer (outgoing or accepted connections, connected UDP), of the
 * protocols asked for.
 */
export async function readSockets(protocols: readonly ('tcp' | 'udp')[] = ['tcp', 'udp']): Promise<ProcSocket[]> {
  // Read synchronously: a few small files cost less than trips through the thread pool.
  const lists = FILES.filter(([, protocol]) => protocols.includes(protocol)).map(([file, protocol]) => {
    try {
      return parseProcNet(readFileSync(`/proc/net/${file}`, 'utf8'), protocol);
    } catch {
      return [];
    }
  });
  return lists.flat().filter((socket) => socket.remotePort !== 0 && socket.state !== 10);
}

/**
 * The namespace's TCP socket counters (`/proc/net/sockstat` and `sockstat6`: sockets in use, orphans, TIME_WAIT,
 * allocated, memory). Reading them costs microseconds; reading /proc/net/tcp walks the kernel's whole connection
 * hash (milliseconds, whatever the number of sockets), so polling reads it only when these changed.
 */
export function tcpCounters(): string {
  const lines = (file: string) => {
    try {
      return readFileSync(`/proc/net/${file}`, 'utf8')
        .split('\n')
        .filter((line) => /^(sockets|TCP6?):/.test(line));
    } catch {
      return [];
    }
  };
  return [...lines('sockstat'), ...lines('sockstat6')].join('\n');
}

/** A process's pid and program name (from its command line: a thread may have renamed `comm`, Node's is "MainThread"). */
export async function processOf(pid: number): Promise<{ pid: number; process: string } | undefined> {
  const argv0 = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0')[0] ?? '';
  const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
  const name = argv0.split('/').pop() || comm;
  return name ? { pid, process: name } : undefined;
}

/** The process holding a socket inode, by scanning /proc/<pid>/fd (only processes this user may look into). */
export async function processOfInode(inode: number): Promise<{ pid: number; process: string } | undefined> {
  if (!inode) return undefined;
  const wanted = `socket:[${inode}]`;
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const fds = await readdir(`/proc/${entry}/fd`).catch(() => [] as string[]);
    for (const fd of fds)
      if ((await readlink(`/proc/${entry}/fd/${fd}`).catch(() => '')) === wanted) return processOf(Number(entry));
  }
  return undefined;
}
