import { createSocket, type Socket } from 'node:dgram';
import type { ConnectionEvent } from './conntrack.js';

/** Where the probes go: the discard port on loopback (nothing need listen; only conntrack's NEW event counts). */
const PROBE_PORT = 9;
/** At most this many probes wait for their event; older ones are given up (their sockets closed). */
const MAX_PENDING = 8;

/**
 * The monitor's own probes: datagrams to 127.0.0.1:9, each from a new socket (a new flow, so a NEW event of its
 * own). A probe's event is recognised by its whole tuple (udp 127.0.0.1:<port> → 127.0.0.1:9) while the monitor
 * still holds the socket bound to that port, so no other process can send from it: nothing else is ever taken for
 * a probe, and a probe can only ever be loopback traffic to the discard port.
 */
export class Probes {
  private readonly pending = new Map<number, { socket: Socket; sentAt: number }>();

  /** Sends a probe; `bound` is told its source port before it is sent. */
  async send(bound?: (port: number) => void): Promise<void> {
    const socket = createSocket({ type: 'udp4', reuseAddr: false });
    socket.on('error', () => socket.close());
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    this.pending.set(socket.address().port, { socket, sentAt: Date.now() });
    bound?.(socket.address().port);
    for (const [port, probe] of this.pending) {
      if (this.pending.size <= MAX_PENDING) break;
      probe.socket.close();
      this.pending.delete(port);
    }
    await new Promise((resolve) => socket.send('deploy-gates egress-sentinel probe', PROBE_PORT, '127.0.0.1', resolve));
  }

  /** When `event` is one of this monitor's probes: when it was sent (its socket is closed now); else undefined. */
  take(event: ConnectionEvent): number | undefined {
    if (event.protocol !== 'udp' || event.port !== PROBE_PORT) return undefined;
    if (event.source !== '127.0.0.1' || event.destination !== '127.0.0.1' || event.natFrom) return undefined;
    const probe = this.pending.get(event.sourcePort);
    if (!probe) return undefined;
    probe.socket.close();
    this.pending.delete(event.sourcePort);
    return probe.sentAt;
  }

  /** When the oldest probe still waiting was sent, if any. */
  oldest(): number | undefined {
    const times = [...this.pending.values()].map((probe) => probe.sentAt);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  close(): void {
    for (const probe of this.pending.values()) probe.socket.close();
    this.pending.clear();
  }
}
