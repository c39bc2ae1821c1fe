import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What the sentinel's tables need to know of this machine, read with Node's built-ins only (egress-sentinel's entry
 * installs the first tables before the action's code loads; see launch.ts).
 */

/** A file's text, or '' where it cannot be read. */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The DHCPv4 servers of this machine's leases (systemd-networkd, dhclient), for block mode's DHCP exception. */
export function dhcpServers(): string[] {
  const servers = new Set<string>();
  const read = (dir: string, pattern: RegExp) => {
    let files: string[] = [];
    try {
      files = readdirSync(dir);
    } catch {
      return;
    }
    for (const file of files) for (const match of readText(join(dir, file)).matchAll(pattern)) servers.add(match[1]!);
  };
  read('/run/systemd/netif/leases', /^SERVER_ADDRESS=(\d+\.\d+\.\d+\.\d+)$/gm);
  read('/var/lib/dhcp', /dhcp-server-identifier\s+(\d+\.\d+\.\d+\.\d+);/g);
  return [...servers];
}

/** Every interface of this network namespace but loopback. */
export function interfaces(): string[] {
  try {
    return readdirSync('/sys/class/net')
      .filter((name) => name !== 'lo')
      .sort();
  } catch {
    return [];
  }
}
