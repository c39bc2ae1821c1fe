import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, labUnavailable, runClient, type Lab } from '../support/netns.js';
import { distFile } from '../support/paths.js';
import { commandLine, conntrackListenerOf, isRunning, processesWhere } from '../support/processes.js';
import { Job } from './job.js';

// egress-sentinel against a hostile later step of the same job (root in the runner namespace, as with sudo), and
// its stop step: the built bundle, run as the runner runs it, in network namespaces.
const unavailable = labUnavailable();
if (unavailable) console.warn(`\n\n!!! egress-sentinel hostile-step tests SKIPPED: ${unavailable} !!!\n\n`);
const describeLab = unavailable ? describe.skip : describe;

const database4 = '198.18.1.2';
const outside4 = '198.18.2.2';
const outside6 = 'fd00:2::2';
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeLab('egress-sentinel against a hostile step', () => {
  let lab: Lab;
  const jobs: Job[] = [];
  const job = (inputs: Record<string, string>) => {
    const created = new Job(lab.runner, inputs);
    jobs.push(created);
    return created;
  };
  const inRunner = (command: string[]) =>
    spawnSync('ip', ['netns', 'exec', lab.runner, ...command], { encoding: 'utf8' });
  /** A Python one-liner in the runner namespace; its stdout (or its error) as text. */
  const python = (code: string) => {
    const result = inRunner(['python3', '-c', code]);
    return `${result.stdout}${result.stderr}`.trim();
  };

  beforeAll(async () => {
    lab = createLab('h');
    await lab.serve(lab.database, [5432, 80], 5353);
    await lab.serve(lab.outside, [443, 8080], 5353);
  }, 60_000);
  // A stop step leaves the monitor running (only the post step can stop it): each test's job ends before the next.
  afterEach(async () => {
    for (const created of jobs) await created.finish();
  }, 60_000);
  afterAll(() => {
    for (const created of jobs) created.cleanup();
    lab?.destroy();
  });

  test('a stop step reports up to its checkpoint with outputs and fails; the post step stops the monitor; stop-step: true leaves later connections out', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432`, 'stop-step': 'true' });
    await run.start();
    runClient(lab, lab.runner, [`${outside4}:8080`, `${database4}:5432`]);
    const stop = run.step({ stop: 'true', 'allowed-endpoints': '', 'report-path': 'artifacts/stop.json' });
    const stopped = await stop.main();
    expect(stopped.exitCode).toBe(1);
    expect(stopped.outputs).toMatchObject({ violations: '1', tampered: 'false' });
    expect(stopped.outputs.report).toMatch(/artifacts\/stop\.json$/);
    const interim = run.report(stopped.outputs.report);
    expect(interim.violations).toEqual([expect.objectContaining({ address: outside4, port: 8080 })]);
    expect(interim).toMatchObject({ checkpoint: expect.any(String), checkpoints: [expect.any(String)] });
    // The stop step cannot stop the monitor (it has no stop secret): it watches on until the post step.
    const pid = run.monitorPid();
    expect(isRunning(pid)).toBe(true);
    // A step after the stop step (an artifact upload) connects elsewhere: listed, not a violation (stop-step: true).
    runClient(lab, lab.runner, [`${outside4}:443`]);
    await wait(300);
    // The stop step's own post, then the first use's post (the runner runs posts in reverse).
    expect(await stop.post()).toMatchObject({ exitCode: 0 }); // on failure, jest shows the step's log
    const post = await run.post();
    expect(post.exitCode).toBe(1);
    const report = run.report();
    expect(report.violations).toEqual([expect.objectContaining({ address: outside4, port: 8080 })]);
    expect(report['after-stop']).toEqual([expect.objectContaining({ address: outside4, port: 443 })]);
    expect(report.tampered).toBe(false);
    expect(isRunning(pid)).toBe(false);
  });

  test('a stop step of a clean job passes with violations=0, tampered=false; block mode holds until the post step', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432`, mode: 'block', 'stop-step': 'true' });
    await run.start();
    runClient(lab, lab.runner, [`${database4}:5432`]);
    const stopped = await run.step({ stop: 'true' }).main();
    expect(stopped).toMatchObject({ exitCode: 0 }); // on failure, jest shows the step's log
    expect(stopped.outputs).toMatchObject({ violations: '0', tampered: 'false' });
    expect(run.report()).toMatchObject({ complete: true, tampered: false, violations: [] });
    expect(runClient(lab, lab.runner, [`${outside4}:443`])[0]!.code).toBe('ECONNREFUSED');
    expect(await run.post()).toMatchObject({ exitCode: 0 }); // on failure, jest shows the step's log
    expect(run.report()).toMatchObject({
      violations: [],
      'after-stop': [expect.objectContaining({ address: outside4, port: 443, blocked: true })],
    });
  });

  test('without stop-step: true a forged checkpoint changes nothing: connections after it still fail the post step', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432` });
    await run.start();
    const { dir } = run.saved();
    writeFileSync(join(dir!, `checkpoint-${'a'.repeat(32)}-request`), '');
    await wait(1_000);
    runClient(lab, lab.runner, [`${outside4}:443`]);
    expect((await run.post()).exitCode).toBe(1);
    const report = run.report();
    expect(report.checkpoints).toHaveLength(1);
    expect(report.violations).toEqual([expect.objectContaining({ address: outside4, port: 443 })]);
    expect(report['after-stop']).toBeUndefined();
  });

  test('block mode: DHCP ports to any other address, ICMPv6 neighbour advertisements off-link and raw frames do not get out', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432`, mode: 'block' });
    await run.start();
    // UDP to port 67 from port 68, and to port 547, of a host that is not a DHCP server or broadcast.
    const udp = `import socket\nfor (sport, port) in ((68, 67), (0, 547)):\n  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n  s.bind(('0.0.0.0', sport))\n  try:\n    s.sendto(b'data', ('${outside4}', port)); print('sent')\n  except OSError as e: print('refused', e.errno)`;
    expect(python(udp).split('\n')).toEqual(['refused 1', 'refused 1']);
    // A neighbour advertisement carrying data to an address that is not on-link (hop limit 64, as a routed one).
    const na = `import socket\ns = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)\ntry:\n  s.sendto(bytes([136, 0, 0, 0]) + b'secret' * 4, ('${outside6}', 0)); print('sent')\nexcept OSError as e: print('refused', e.errno)`;
    expect(python(na)).toBe('refused 1');
    // A raw ethernet frame (AF_PACKET) on the runner's interface towards the outside host.
    const device = inRunner(['ip', '-o', 'route', 'get', outside4]).stdout.match(/ dev (\S+)/)![1]!;
    const raw = `import socket\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\ns.bind(('${device}', 0))\nfor i in range(3):\n  try: s.send(b'\\xff' * 6 + b'\\x02' * 6 + b'\\x88\\xb5' + b'secret' * 10)\n  except OSError: pass\nprint('written')`;
    expect(python(raw)).toBe('written');
    const stopped = await run.step({ stop: 'true' }).main();
    const report = run.report();
    expect(report.violations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ address: outside4, port: 67, protocol: 'udp', blocked: true }),
        expect.objectContaining({ address: outside4, port: 547, protocol: 'udp', blocked: true }),
        // The three frames this step wrote, no more and no fewer: counted from the tables' read at the start (a frame
        // the kernel had in flight as they went in is not the job's).
        expect.objectContaining({ address: `raw frames on ${device}`, protocol: 'ethernet', blocked: true, count: 3 }),
      ]),
    );
    expect(run.saved().rawAtStart).toEqual(expect.objectContaining({ [device]: expect.any(Number) }));
    // Every exception the sentinel makes by itself is listed.
    const exceptions = report.allowed.filter((item) => item.by === 'sentinel').map((item) => item.entry);
    expect(exceptions.join('\n')).toMatch(/DHCPv4 from port 68 to port 67 of 255\.255\.255\.255/);
    expect(exceptions.join('\n')).toMatch(/ICMPv6 router and neighbour discovery/);
    expect(stopped.exitCode).toBe(1);
  });

  /** A UDP "connection" to the outside echo server from the runner, sending every 250 ms; `echoes()` counts replies. */
  const udpClient = () => {
    // Flows an earlier test left in the table would be listed too.
    inRunner(['conntrack', '-D', '-p', 'udp', '--dport', '5353']);
    const client = spawn(
      'ip',
      [
        'netns',
        'exec',
        lab.runner,
        process.execPath,
        '-e',
        `const s = require('dgram').createSocket('udp4'); let n = 0; s.on('message', () => n++); s.on('error', () => {}); process.on('uncaughtException', () => {});
         s.connect(5353, '${outside4}', () => setInterval(() => { s.send('x'); console.log(n); }, 250));`,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let echoes = 0;
    client.stdout.on('data', (chunk: Buffer) => (echoes = Number(chunk.toString().trim().split('\n').pop())));
    return { echoes: () => echoes, kill: () => client.kill('SIGKILL') };
  };
  const udpFlow = (fields: Record<string, unknown>) =>
    expect.objectContaining({ address: outside4, port: 5353, protocol: 'udp', ...fields });

  // A hosted runner tracks connections before any job step (Docker's iptables rules): a foreign table stands in.
  test.each([
    ['block', true],
    ['audit', false],
  ])('%s mode lists a flow opened before the sentinel started (cut: %s)', async (mode, cut) => {
    const tracking =
      'table inet lab_tracking {\n chain output {\n  type filter hook output priority 10;\n  ct state new counter\n }\n}\n';
    const added = spawnSync('ip', ['netns', 'exec', lab.runner, 'nft', '-f', '-'], {
      input: tracking,
      encoding: 'utf8',
    });
    expect(added.stderr).toBe('');
    const client = udpClient();
    try {
      while (client.echoes() < 2) await wait(100);
      const run = job({ 'allowed-endpoints': `${database4}:5432`, mode });
      await run.start();
      await wait(500);
      const after = client.echoes();
      await wait(1_500);
      if (cut) expect(client.echoes() - after).toBeLessThanOrEqual(1);
      else expect(client.echoes() - after).toBeGreaterThanOrEqual(4);
      await run.step({ stop: 'true' }).main();
      expect(run.report()['pre-existing']).toEqual(expect.arrayContaining([udpFlow({ allowed: false, cut })]));
    } finally {
      client.kill();
      inRunner(['nft', 'delete table inet lab_tracking']);
    }
  });

  // Where nothing tracked connections, an old flow enters the table at its first packet after the sentinel's first
  // rule: told before the table read, it is listed as pre-existing; after, it is a violation (blocked once the block
  // rules are in). Cut and reported either way.
  test('block mode cuts and reports a flow that nothing tracked before the sentinel started', async () => {
    const client = udpClient();
    try {
      while (client.echoes() < 2) await wait(100);
      const run = job({ 'allowed-endpoints': `${database4}:5432`, mode: 'block' });
      await run.start();
      await wait(500);
      const after = client.echoes();
      await wait(1_500);
      expect(client.echoes() - after).toBeLessThanOrEqual(1);
      await run.step({ stop: 'true' }).main();
      const report = run.report();
      const listed = report['pre-existing'].filter((flow) => flow.port === 5353);
      if (listed.length) expect(listed).toEqual([udpFlow({ allowed: false, cut: true })]);
      else expect(report.violations).toEqual(expect.arrayContaining([udpFlow({ blocked: true })]));
    } finally {
      client.kill();
    }
  });

  test('the readiness probe cannot be impersonated: UDP to port 9 of any other host is reported', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432` });
    await run.start();
    runClient(lab, lab.runner, [], [`${outside4}:9`]);
    await run.step({ stop: 'true' }).main();
    expect(run.report().violations).toEqual([expect.objectContaining({ address: outside4, port: 9, protocol: 'udp' })]);
  });

  test('a stopped monitor (SIGSTOP, a connection, SIGCONT) is tampering with its window, and the connection is still found', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432` });
    await run.start();
    const pid = run.monitorPid();
    process.kill(pid, 'SIGSTOP');
    try {
      runClient(lab, lab.runner, [`${outside4}:8080`]);
      await wait(3_500);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await wait(1_500);
    const stopped = await run.step({ stop: 'true' }).main();
    expect(stopped.exitCode).toBe(1);
    const report = run.report();
    expect(report.violations).toEqual(
      expect.arrayContaining([expect.objectContaining({ address: outside4, port: 8080, protocol: 'tcp' })]),
    );
    expect(report.tampered).toBe(true);
    expect(report.gaps.length).toBeGreaterThan(0);
    expect(Date.parse(report.gaps[0]!.to) - Date.parse(report.gaps[0]!.from)).toBeGreaterThanOrEqual(2_500);
    expect(stopped.outputs.tampered).toBe('true');
  });

  test('a stopped conntrack listener is tampering with its window', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432` });
    await run.start();
    // The monitor's children: its watchers (ip monitor, nft monitor) and the conntrack listener.
    const child = conntrackListenerOf(run.monitorPid())!;
    expect(child).toBeDefined();
    process.kill(child, 'SIGSTOP');
    await wait(4_500);
    process.kill(child, 'SIGCONT');
    await wait(1_500);
    await run.step({ stop: 'true' }).main();
    const report = run.report();
    expect(report.tampered).toBe(true);
    expect(report.gaps.map((gap) => gap.reason).join(' ')).toContain('conntrack listener was stopped or held up');
  });

  test('a flow DNATed by another table is reported with its real destination', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:80` });
    await run.start();
    const table = `natx${process.pid}`;
    inRunner(['nft', 'add', 'table', 'ip', table]);
    inRunner(['nft', 'add', 'chain', 'ip', table, 'out', '{ type nat hook output priority -100; }']);
    inRunner([
      'nft',
      'add',
      'rule',
      'ip',
      table,
      'out',
      'ip',
      'daddr',
      database4,
      'tcp',
      'dport',
      '80',
      'dnat',
      'to',
      `${outside4}:8080`,
    ]);
    try {
      expect(runClient(lab, lab.runner, [`${database4}:80`])[0]!.ok).toBe(true);
    } finally {
      inRunner(['nft', 'delete', 'table', 'ip', table]);
    }
    await run.step({ stop: 'true' }).main();
    expect(run.report().violations).toEqual([
      expect.objectContaining({ address: outside4, port: 8080, 'nat-from': `${database4}:80` }),
    ]);
  });

  test('rules elsewhere that blind tracking (notrack, iptables-legacy NAT) and an interface moved away are tampering, named', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432` });
    await run.start();
    const table = `raw${process.pid}`;
    const peer = `mv${process.pid}`;
    const elsewhere = `dgh${process.pid}x`;
    const device = inRunner(['ip', '-o', 'route', 'get', outside4]).stdout.match(/ dev (\S+)/)![1]!;
    try {
      lab.exec(lab.runner, ['nft', 'add', 'table', 'ip', table]);
      lab.exec(lab.runner, ['nft', 'add', 'chain', 'ip', table, 'out', '{ type filter hook output priority raw; }']);
      lab.exec(lab.runner, ['nft', 'add', 'rule', 'ip', table, 'out', 'ip', 'daddr', outside4, 'notrack']);
      lab.exec(lab.runner, [
        'iptables-legacy',
        '-t',
        'nat',
        '-A',
        'OUTPUT',
        '-d',
        '198.18.9.9',
        '-j',
        'DNAT',
        '--to-destination',
        outside4,
      ]);
      lab.exec(lab.runner, ['ip', 'link', 'add', peer, 'link', device, 'type', 'macvlan']);
      spawnSync('ip', ['netns', 'add', elsewhere]);
      lab.exec(lab.runner, ['ip', 'link', 'set', peer, 'netns', elsewhere]);
      await wait(500);
    } finally {
      inRunner(['nft', 'delete', 'table', 'ip', table]);
      inRunner(['iptables-legacy', '-t', 'nat', '-F', 'OUTPUT']);
      spawnSync('ip', ['netns', 'del', elsewhere]);
    }
    const stopped = await run.step({ stop: 'true' }).main();
    expect(stopped.outputs.tampered).toBe('true');
    const tampering = run.report().tampering.join('\n');
    expect(tampering).toMatch(/nftables changed while the job ran: .*notrack/);
    expect(tampering).toContain('iptables-legacy rules were changed');
    expect(tampering).toContain(`a macvlan interface (${peer}) was created`);
    expect(tampering).toContain(`interface ${peer} was moved to another network namespace`);
  });

  /** Loads an nft script in the runner namespace (as a root step would); its errors, if any. */
  const nft = (script: string) =>
    spawnSync('ip', ['netns', 'exec', lab.runner, 'nft', '-f', '-'], { input: script, encoding: 'utf8' }).stderr;

  test('a look-alike table (deploy_gates_egress_x) with notrack, and ct event / ct mark rules elsewhere, are tampering, named', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432` });
    await run.start();
    const quiet = `quiet${process.pid}`;
    try {
      // The sentinel's own name with a suffix, in the output hook before tracking: the flow is never tracked.
      expect(
        nft(
          `table inet deploy_gates_egress_x {\n chain o { type filter hook output priority raw; policy accept; ip daddr ${outside4} tcp dport 443 notrack; }\n}\n`,
        ),
      ).toBe('');
      // Postrouting, an ordinary table: the flow is tracked, its events silenced; a mark set on it.
      expect(
        nft(
          `table inet ${quiet} {\n chain p { type filter hook postrouting priority 0; policy accept; ip daddr ${outside4} ct mark set ct mark | 0x20000000 ct event set label; }\n}\n`,
        ),
      ).toBe('');
      runClient(lab, lab.runner, [`${outside4}:443`, `${outside4}:8080`]);
      await wait(500);
    } finally {
      inRunner(['nft', 'delete', 'table', 'inet', 'deploy_gates_egress_x']);
      inRunner(['nft', 'delete', 'table', 'inet', quiet]);
    }
    const stopped = await run.step({ stop: 'true' }).main();
    expect(stopped.outputs.tampered).toBe('true');
    const tampering = run.report().tampering.join('\n');
    expect(tampering).toMatch(/nftables changed while the job ran: add rule inet deploy_gates_egress_x o .*notrack/);
    expect(tampering).toMatch(
      new RegExp(`nftables changed while the job ran: add rule inet ${quiet} p .*ct event set`),
    );
    // The sentinel's own tables (exactly `inet deploy_gates_egress`) are not taken for someone else's.
    expect(tampering).not.toMatch(/inet deploy_gates_egress /);
  });

  /** The monitor's child whose command line starts with `words` (its threads' children, as /proc lists them). */
  const childOf = (pid: number, words: string[]) => {
    const children = readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/),
    );
    return Number(children.find((child) => child && commandLine(child).startsWith(`${words.join('\0')}\0`)));
  };

  test('a watcher of the monitor killed (nft monitor, the conntrack listener) is tampering, named', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432` });
    await run.start();
    const rules = childOf(run.monitorPid(), ['nft', 'monitor', 'rules']);
    expect(rules).toBeGreaterThan(0);
    process.kill(rules, 'SIGKILL');
    await wait(500);
    // A rule added after that would not be seen: the watcher's end is the tampering.
    const stopped = await run.step({ stop: 'true' }).main();
    expect(stopped.exitCode).toBe(1);
    expect(run.report().tampering.join('\n')).toMatch(
      /watcher `nft monitor rules` \(rules elsewhere\) ended \(SIGKILL\)/,
    );
    process.kill(conntrackListenerOf(run.monitorPid())!, 'SIGKILL');
    await wait(500);
    expect((await run.post()).exitCode).toBe(1);
    const tampering = run.report().tampering.join('\n');
    expect(tampering).toMatch(/watcher `nft monitor rules` \(rules elsewhere\) ended \(SIGKILL\)/);
    expect(tampering).toMatch(/the conntrack listener ended \(SIGKILL.*while the job ran/);
  });

  test('under @github/local-action (the bundle imported, run() called) the monitor starts from the bundle beside it', async () => {
    const run = job({ 'allowed-endpoints': `${database4}:5432` });
    const main = await run.mainByImport();
    expect(main).toMatchObject({ exitCode: 0 }); // on failure, jest shows the step's log
    expect(commandLine(run.monitorPid()).split('\0')).toContain(distFile('egress-sentinel', 'monitor.js'));
    runClient(lab, lab.runner, [`${outside4}:443`]);
    expect((await run.post()).exitCode).toBe(1);
    expect(run.report().violations).toEqual([expect.objectContaining({ address: outside4, port: 443 })]);
  });

  test('an allowed name that does not resolve is an input error; input errors are told once (main), not again by post', async () => {
    const typo = job({ 'allowed-endpoints': 'db.internl:5432' });
    const main = await typo.main();
    expect(main.exitCode).toBe(1);
    expect(main.log).toContain('db.internl:5432 does not resolve to any address');
    // The monitor, started before the checks, ends when main fails (its directory is removed before it began).
    await wait(1_000);
    expect(processesWhere((line) => line.includes(typo.runnerTemp))).toEqual([]);
    const bad = job({ 'allowed-endpoints': `${database4}:5432`, mode: 'blocking' });
    expect((await bad.main()).log).toContain('Input "mode"');
    const post = await bad.post();
    expect(post.exitCode).toBe(1);
    expect(post.log).not.toContain('Input "mode"');
    expect(post.log).toContain('see the main step');
  });
});
