import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseConntrackLine } from '#core/egress/conntrack.js';
import { rulesetScript, emptyElements, normalizeListing, tablesOf } from '#core/egress/nft.js';
import { parseProcNet } from '#core/egress/procnet.js';
import { createLab, labUnavailable, runClient, type Lab } from '../support/netns.js';

// The monitor reads the output of real tools and kernel files; these tests parse what they really print here.
const unavailable = labUnavailable();
if (unavailable)
  console.warn(`\n\n!!! egress parser tests on real conntrack and /proc/net output SKIPPED: ${unavailable} !!!\n\n`);
const describeLab = unavailable ? describe.skip : describe;

describeLab('parsing real conntrack and /proc/net output', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = createLab('p');
    await lab.serve(lab.database, [5432], 5353);
  }, 60_000);
  afterAll(() => lab?.destroy());

  test('conntrack -E lines give who connected to whom, for TCP and UDP, IPv4 and IPv6', async () => {
    // A table with a ct rule, as the sentinel installs: without one a namespace may track nothing.
    const script = rulesetScript({ mode: 'audit', allowLoopback: true, marker: 'parser-test' }, emptyElements());
    const install = spawn('ip', ['netns', 'exec', lab.runner, 'nft', '-f', '-'], {
      stdio: ['pipe', 'inherit', 'inherit'],
    });
    install.stdin.end(script);
    await new Promise((resolve) => install.on('close', resolve));
    const conntrack = spawn(
      'ip',
      ['netns', 'exec', lab.runner, 'conntrack', '-E', '-e', 'NEW', '-o', 'timestamp,extended'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines: string[] = [];
    createInterface({ input: conntrack.stdout }).on('line', (line) => lines.push(line));
    // Until conntrack listens, a connection may come before it: repeat until one is seen.
    for (let i = 0; i < 50 && lines.length === 0; i++) {
      runClient(lab, lab.runner, [`198.18.1.2:5432`]);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const before = lines.length;
    runClient(lab, lab.runner, ['198.18.1.2:5432', '[fd00:1::2]:5432'], ['198.18.1.2:5353', '[fd00:1::2]:5353']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    conntrack.kill('SIGINT');
    await new Promise((resolve) => conntrack.on('close', resolve));
    const events = lines
      .slice(before)
      .map((line) => parseConntrackLine(line))
      .filter((event) => event !== undefined);
    const simplified = events.map(({ family, protocol, source, destination, port }) => ({
      family,
      protocol,
      source,
      destination,
      port,
    }));
    expect(simplified).toEqual(
      expect.arrayContaining([
        { family: 4, protocol: 'tcp', source: '198.18.1.1', destination: '198.18.1.2', port: 5432 },
        { family: 6, protocol: 'tcp', source: 'fd00:1::1', destination: 'fd00:1::2', port: 5432 },
        { family: 4, protocol: 'udp', source: '198.18.1.1', destination: '198.18.1.2', port: 5353 },
        { family: 6, protocol: 'udp', source: 'fd00:1::1', destination: 'fd00:1::2', port: 5353 },
      ]),
    );
    for (const event of events) {
      expect(event.sourcePort).toBeGreaterThan(0);
      // The timestamp conntrack printed, not the time of parsing.
      expect(Math.abs(event.time - Date.now())).toBeLessThan(60_000);
    }
    // The closing line conntrack prints is not an event.
    expect(
      lines.filter((line) => parseConntrackLine(line) === undefined).every((line) => !line.includes('[NEW]')),
    ).toBe(true);
    lab.exec(lab.runner, ['nft', 'delete', 'table', 'inet', 'deploy_gates_egress']);
  });

  test('/proc/net/{tcp,tcp6,udp6} give the peer, local port and inode of open sockets', async () => {
    // Holds a TCP connection over IPv4 and IPv6 and a connected UDP socket open, prints their local ports, waits.
    const holder = spawn(
      'ip',
      [
        'netns',
        'exec',
        lab.runner,
        process.execPath,
        '-e',
        `const net = require('net'), dgram = require('dgram');
         const a = net.connect(5432, '198.18.1.2'), b = net.connect(5432, 'fd00:1::2'), u = dgram.createSocket('udp6');
         let n = 0; const done = () => ++n === 3 && console.log(JSON.stringify([a.localPort, b.localPort, u.address().port]));
         a.on('connect', done); b.on('connect', done); u.connect(5353, 'fd00:1::2', done);
         a.on('error', () => {}); b.on('error', () => {}); process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const [port4, port6, portUdp] = await new Promise<number[]>((resolve) =>
      createInterface({ input: holder.stdout! }).once('line', (line) => resolve(JSON.parse(line))),
    );
    const tcp = parseProcNet(lab.exec(lab.runner, ['cat', '/proc/net/tcp']), 'tcp');
    const tcp6 = parseProcNet(lab.exec(lab.runner, ['cat', '/proc/net/tcp6']), 'tcp');
    const udp6 = parseProcNet(lab.exec(lab.runner, ['cat', '/proc/net/udp6']), 'udp');
    holder.stdin!.end();
    // ESTABLISHED (1), or CLOSE_WAIT (8) once the server has closed its side.
    expect(tcp.find((socket) => socket.localPort === port4)).toMatchObject({
      localAddress: '198.18.1.1',
      remoteAddress: '198.18.1.2',
      remotePort: 5432,
    });
    expect(tcp6.find((socket) => socket.localPort === port6)).toMatchObject({
      localAddress: 'fd00:1::1',
      remoteAddress: 'fd00:1::2',
      remotePort: 5432,
    });
    for (const socket of [
      tcp.find((item) => item.localPort === port4)!,
      tcp6.find((item) => item.localPort === port6)!,
    ])
      expect([1, 8]).toContain(socket.state);
    expect(udp6.find((socket) => socket.localPort === portUdp)).toMatchObject({
      remoteAddress: 'fd00:1::2',
      remotePort: 5353,
    });
    expect(tcp.find((socket) => socket.localPort === port4)!.inode).toBeGreaterThan(0);
  });

  test('the sentinel reads its two tables out of the whole ruleset; a table listed twice cannot pass as one', () => {
    const listing = [
      '# Warning: table ip filter is managed by iptables-nft, do not touch!',
      'table ip filter {',
      '\tchain OUTPUT {',
      '\t}',
      '}',
      'table netdev deploy_gates_egress_raw {',
      '\tcounter raw0 {',
      '\t\tpackets 7 bytes 420',
      '\t}',
      '}',
    ].join('\n');
    const tables = tablesOf(listing);
    expect([...tables.keys()]).toEqual(['ip filter', 'netdev deploy_gates_egress_raw']);
    expect(normalizeListing(tables.get('netdev deploy_gates_egress_raw')!)).toBe(
      'table netdev deploy_gates_egress_raw {\n\tcounter raw0 {\n\t}\n}',
    );
    const twice = tablesOf(`${listing}\ntable ip filter {\n}`).get('ip filter')!;
    expect(twice).not.toBe(tables.get('ip filter'));
    expect(twice.startsWith(tables.get('ip filter')!)).toBe(true);
  });

  test('the table listing compared for tampering ignores counters and set elements, not rules', () => {
    const script = rulesetScript(
      { mode: 'block', allowLoopback: true, marker: 'm1' },
      { ...emptyElements(), port4: ['198.18.1.2 . 5432'] },
    );
    const install = (text: string) => {
      lab.exec(lab.runner, [
        'sh',
        '-c',
        `nft delete table inet deploy_gates_egress 2>/dev/null; echo '${text.replace(/'/g, "'\\''")}' | nft -f -`,
      ]);
      return normalizeListing(lab.exec(lab.runner, ['nft', '-s', 'list', 'table', 'inet', 'deploy_gates_egress']));
    };
    const installed = install(script);
    runClient(lab, lab.runner, ['198.18.2.2:443']);
    lab.exec(lab.runner, ['nft', 'add', 'element', 'inet', 'deploy_gates_egress', 'allow4', '{ 198.18.1.3 . 443 }']);
    expect(normalizeListing(lab.exec(lab.runner, ['nft', '-s', 'list', 'table', 'inet', 'deploy_gates_egress']))).toBe(
      installed,
    );
    // The same table as the sentinel reads it, with its counters, from the whole ruleset in one nft run.
    const stateful = tablesOf(lab.exec(lab.runner, ['nft', 'list', 'ruleset'])).get('inet deploy_gates_egress')!;
    expect(stateful).toMatch(/packets [1-9]\d* bytes/);
    expect(normalizeListing(stateful)).toBe(installed);
    lab.exec(lab.runner, ['nft', 'insert', 'rule', 'inet', 'deploy_gates_egress', 'output', 'accept']);
    expect(
      normalizeListing(lab.exec(lab.runner, ['nft', '-s', 'list', 'table', 'inet', 'deploy_gates_egress'])),
    ).not.toBe(installed);
    lab.exec(lab.runner, ['nft', 'delete', 'table', 'inet', 'deploy_gates_egress']);
  });
});
