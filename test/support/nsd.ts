import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real authoritative DNS server (Debian's `nsd`) serving one zone on an address inside a network namespace,
 * started in the foreground and stopped by `stop()`. `update(records)` rewrites the zone (a higher serial) and has
 * nsd reload it (SIGHUP), as an operator changing an address mid-job would.
 */
export interface Nsd {
  address: string;
  zone: string;
  update(records: string): Promise<void>;
  stop(): void;
}

export function nsdUnavailable(): string | undefined {
  if (spawnSync('nsd', ['-v']).error) return '`nsd` is not installed (apt-get install nsd)';
  if (spawnSync('dig', ['-v']).error) return '`dig` is not installed (apt-get install dnsutils)';
  return undefined;
}

const dig = (namespace: string, address: string, name: string) =>
  spawnSync('ip', ['netns', 'exec', namespace, 'dig', `@${address}`, name, '+short', '+time=1', '+tries=1'], {
    encoding: 'utf8',
  }).stdout.trim();

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let tries = 0; tries < 100; tries++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nsd: ${what} within 10s`);
}

/** Starts nsd in `namespace` on `address`:53 for `zone`, with `records` (zone-file lines relative to the zone). */
export async function startNsd(namespace: string, address: string, zone: string, records: string): Promise<Nsd> {
  const dir = mkdtempSync(join(tmpdir(), `nsd-${process.pid}-`));
  let serial = 1;
  const writeZone = (lines: string) =>
    writeFileSync(
      join(dir, 'zone'),
      `$ORIGIN ${zone}.\n$TTL 60\n@ IN SOA ns.${zone}. admin.${zone}. ${serial} 3600 600 86400 1\n@ IN NS ns.${zone}.\nns IN A ${address}\n${lines}\n`,
    );
  writeZone(records);
  writeFileSync(
    join(dir, 'nsd.conf'),
    [
      'server:',
      `  ip-address: ${address}`,
      '  port: 53',
      '  username: ""',
      '  chroot: ""',
      `  zonesdir: "${dir}"`,
      `  pidfile: "${dir}/nsd.pid"`,
      '  database: ""',
      `  xfrdfile: "${dir}/xfrd.state"`,
      `  zonelistfile: "${dir}/zone.list"`,
      `  logfile: "${dir}/nsd.log"`,
      '  server-count: 1',
      // No response rate limiting: the benchmark asks hundreds of times a second from one address.
      '  rrl-ratelimit: 0',
      'remote-control:',
      '  control-enable: no',
      'zone:',
      `  name: ${zone}`,
      '  zonefile: zone',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('ip', ['netns', 'exec', namespace, 'nsd', '-d', '-c', join(dir, 'nsd.conf')], {
    stdio: 'ignore',
  });
  // Its directory goes once nsd has ended (it writes there until then).
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const stop = () => child.kill('SIGTERM');
  try {
    await waitFor(() => dig(namespace, address, `ns.${zone}`) === address, 'no answer');
  } catch (error) {
    stop();
    throw error;
  }
  return {
    address,
    zone,
    async update(lines: string) {
      serial++;
      writeZone(lines);
      child.kill('SIGHUP');
      const first = /^(\S+)\s.*\sA\s+(\S+)$/m.exec(lines);
      if (first) await waitFor(() => dig(namespace, address, `${first[1]}.${zone}`) === first[2], 'zone not reloaded');
    },
    stop,
  };
}
