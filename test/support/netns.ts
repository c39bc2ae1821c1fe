import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * Network namespaces for the egress tests: a "runner" joined by veth pairs to a "database" host, an "outside" host
 * and a "container" routed through the runner (as Docker's bridge is), with IPv4 in 198.18.0.0/15 and IPv6 in
 * fd00::/8. Names carry the test process's pid, so parallel runs do not collide. Needs root and `ip netns`.
 */
export interface Lab {
  runner: string;
  database: string;
  outside: string;
  container: string;
  addresses: {
    runner4: string;
    database4: string;
    outside4: string;
    container4: string;
    database6: string;
    outside6: string;
    container6: string;
  };
  /** Runs a command inside a namespace; throws on failure. */
  exec(namespace: string, command: string[]): string;
  /** Starts TCP servers (every port given) and a UDP echo server on `udpPort` inside a namespace. */
  serve(namespace: string, tcpPorts: number[], udpPort: number): Promise<void>;
  destroy(): void;
}

/** Why the lab cannot be built here (not root, no `ip`), or undefined when it can. */
export function labUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return '`ip netns` is not available';
  if (spawnSync('nft', ['--version']).status !== 0) return '`nft` is not installed (apt-get install nftables)';
  if (spawnSync('conntrack', ['--version']).status !== 0)
    return '`conntrack` is not installed (apt-get install conntrack)';
  return undefined;
}

const SERVER = `
const [tcp, udp] = [JSON.parse(process.argv[1]), Number(process.argv[2])];
const net = require('node:net'), dgram = require('node:dgram');
let pending = tcp.length + 1;
const ready = () => --pending === 0 && console.log('ready');
for (const port of tcp) net.createServer((socket) => { socket.on('error', () => {}); socket.end('hello\\n'); }).listen({ port, host: '::', ipv6Only: false }, ready);
const echo = dgram.createSocket({ type: 'udp6', ipv6Only: false });
echo.on('message', (message, from) => echo.send(message, from.port, from.address));
echo.bind(udp, '::', ready);
`;

export function createLab(tag = 'e'): Lab {
  const id = `${tag}${process.pid}`;
  const ns = { runner: `dg${id}r`, database: `dg${id}d`, outside: `dg${id}o`, container: `dg${id}c` };
  const addresses = {
    runner4: '198.18.1.1',
    database4: '198.18.1.2',
    outside4: '198.18.2.2',
    container4: '198.18.3.2',
    database6: 'fd00:1::2',
    outside6: 'fd00:2::2',
    container6: 'fd00:3::2',
  };
  const servers: ChildProcess[] = [];
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exec = (namespace: string, command: string[]) =>
    execFileSync('ip', ['netns', 'exec', namespace, ...command], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const lab: Lab = {
    ...ns,
    addresses,
    exec,
    async serve(namespace, tcpPorts, udpPort) {
      const child = spawn(
        'ip',
        ['netns', 'exec', namespace, process.execPath, '-e', SERVER, JSON.stringify(tcpPorts), String(udpPort)],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      servers.push(child);
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => line === 'ready' && resolve());
        child.on('exit', (code) => reject(new Error(`server in ${namespace} ended (exit code ${code})`)));
      });
    },
    destroy() {
      for (const server of servers) server.kill('SIGKILL');
      for (const name of Object.values(ns)) {
        spawnSync('ip', ['netns', 'del', name]);
        rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
      }
    },
  };
  try {
    for (const name of Object.values(ns)) {
      ip('netns', 'add', name);
      ip('-n', name, 'link', 'set', 'lo', 'up');
    }
    const link = (peer: string, subnet: number) => {
      const [a, b] = [`v${id}${subnet}a`, `v${id}${subnet}b`];
      ip('link', 'add', a, 'netns', ns.runner, 'type', 'veth', 'peer', 'name', b, 'netns', peer);
      ip('-n', ns.runner, 'addr', 'add', `198.18.${subnet}.1/24`, 'dev', a);
      ip('-n', peer, 'addr', 'add', `198.18.${subnet}.2/24`, 'dev', b);
      ip('-n', ns.runner, '-6', 'addr', 'add', `fd00:${subnet}::1/64`, 'dev', a, 'nodad');
      ip('-n', peer, '-6', 'addr', 'add', `fd00:${subnet}::2/64`, 'dev', b, 'nodad');
      ip('-n', ns.runner, 'link', 'set', a, 'up');
      ip('-n', peer, 'link', 'set', b, 'up');
      // Everything else (the container's subnet) is reached through the runner.
      ip('-n', peer, 'route', 'add', 'default', 'via', `198.18.${subnet}.1`);
      ip('-n', peer, '-6', 'route', 'add', 'default', 'via', `fd00:${subnet}::1`);
    };
    link(ns.database, 1);
    link(ns.outside, 2);
    link(ns.container, 3);
    exec(ns.runner, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    exec(ns.runner, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
    // Names as the runner's resolver sees them: `ip netns exec` puts /etc/netns/<name>/hosts over /etc/hosts.
    mkdirSync(`/etc/netns/${ns.runner}`, { recursive: true });
    writeFileSync(
      `/etc/netns/${ns.runner}/hosts`,
      `127.0.0.1 localhost\n::1 localhost\n${addresses.database4} db.internal\n${addresses.database6} db.internal\n${addresses.outside4} outside.example\n`,
    );
    writeFileSync(`/etc/netns/${ns.runner}/resolv.conf`, 'nameserver 198.18.1.2\n');
  } catch (error) {
    lab.destroy();
    throw error;
  }
  return lab;
}

/**
 * A client run inside a namespace: connects to each `tcp` host:port (closing at once) and sends one datagram to each
 * `udp` host:port, then prints one JSON line per attempt ({target, ok, code}).
 */
export const CLIENT = `
const net = require('node:net'), dgram = require('node:dgram');
const [tcp, udp] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2] || '[]')];
const split = (target) => { const at = target.lastIndexOf(':'); return [target.slice(0, at).replace(/^\\[|\\]$/g, ''), Number(target.slice(at + 1))]; };
(async () => {
  for (const target of tcp) {
    const [host, port] = split(target);
    const result = await new Promise((done) => {
      const socket = net.connect({ host, port });
      socket.on('connect', () => { socket.destroy(); done({ ok: true }); });
      socket.on('error', (error) => done({ ok: false, code: error.code }));
    });
    console.log(JSON.stringify({ target, ...result }));
  }
  for (const target of udp) {
    const [host, port] = split(target);
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const result = await new Promise((done) => {
      socket.on('message', () => done({ ok: true }));
      socket.on('error', (error) => done({ ok: false, code: error.code }));
      socket.connect(port, host, () => socket.send('ping'));
      setTimeout(() => done({ ok: false, code: 'TIMEOUT' }), 2000);
    });
    socket.close();
    console.log(JSON.stringify({ target, ...result }));
  }
})();
`;

export function runClient(
  lab: Lab,
  namespace: string,
  tcp: string[],
  udp: string[] = [],
): { target: string; ok: boolean; code?: string }[] {
  return lab
    .exec(namespace, [process.execPath, '-e', CLIENT, JSON.stringify(tcp), JSON.stringify(udp)])
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { target: string; ok: boolean; code?: string });
}
