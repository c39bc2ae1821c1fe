import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createLab, labUnavailable, type Lab } from '../support/netns.js';
import { nsdUnavailable, startNsd, type Nsd } from '../support/nsd.js';
import { Job } from './job.js';

// egress-sentinel's DNS policy (block mode, dns-policy: allowed-names-only): the built bundle as the runner runs it,
// in network namespaces, with a real authoritative DNS server (nsd) as the runner's resolver and real HTTP servers.
const unavailable = labUnavailable() ?? nsdUnavailable();
if (unavailable) console.warn(`\n\n!!! egress-sentinel DNS policy tests SKIPPED: ${unavailable} !!!\n\n`);
const describeLab = unavailable ? describe.skip : describe;

const zone = 'dg.test';
const upstream = '198.18.1.2';
const [allowed4, forbidden4, moved4] = ['198.18.2.2', '198.18.2.3', '198.18.2.4'];
const records = (moving: string) => `moving.allowed 1 IN A ${moving}
api.allowed IN A ${allowed4}
deep.x.allowed IN A ${allowed4}
cdn.allowed IN CNAME edge.cdn-provider
edge.cdn-provider IN A ${allowed4}
exact IN A ${allowed4}
forbidden IN A ${forbidden4}
*.exfil IN A ${forbidden4}`;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeLab('egress-sentinel dns-policy: allowed-names-only (block mode)', () => {
  let lab: Lab;
  let nsd: Nsd;
  const jobs: Job[] = [];
  const stoppers: (() => void)[] = [];
  const job = (inputs: Record<string, string>) => {
    const created = new Job(lab.runner, { mode: 'block', ...inputs });
    jobs.push(created);
    return created;
  };
  const inRunner = (command: string[]) =>
    spawnSync('ip', ['netns', 'exec', lab.runner, ...command], { encoding: 'utf8', timeout: 20_000 });
  /** curl (glibc's resolver) fetching http://<name>:8080/ in the runner: the HTTP status, or 000 when it failed. */
  const curl = (name: string) =>
    inRunner(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '5', `http://${name}:8080/`]).stdout;
  /** dig's status line (NOERROR, NXDOMAIN, …) or its failure, asking `server` (default: the resolv.conf one). */
  const digStatus = (name: string, server?: string, user?: number) => {
    const asUser = user === undefined ? [] : ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--clear-groups'];
    const result = inRunner([...asUser, 'dig', ...(server ? [`@${server}`] : []), name, '+time=1', '+tries=1']);
    return /status: (\w+)/.exec(result.stdout)?.[1] ?? 'no answer';
  };

  beforeAll(async () => {
    lab = createLab('n');
    // The outside host answers on more addresses: one a forbidden name resolves to, one a name moves to mid-job.
    const device = lab.exec(lab.outside, ['ip', '-o', 'link', 'show']).match(/^\d+: (v\S+)@/m)![1]!;
    for (const address of [forbidden4, moved4])
      lab.exec(lab.outside, ['ip', 'addr', 'add', `${address}/24`, 'dev', device]);
    await lab.serve(lab.outside, [443], 5353);
    const http = spawn(
      'ip',
      ['netns', 'exec', lab.outside, 'python3', '-m', 'http.server', '8080', '--bind', '0.0.0.0'],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    stoppers.push(() => http.kill('SIGTERM'));
    nsd = await startNsd(lab.database, upstream, zone, records(allowed4));
    stoppers.push(() => nsd.stop());
    const up = () =>
      spawnSync('ip', ['netns', 'exec', lab.outside, 'curl', '-s', '-o', '/dev/null', `http://${allowed4}:8080/`])
        .status === 0;
    for (let tries = 0; tries < 50 && !up(); tries++) await wait(100);
  }, 60_000);
  // A stop step leaves the monitor running (only the post step can stop it): each test's job ends before the next.
  afterEach(async () => {
    for (const created of jobs) await created.finish();
  }, 60_000);
  afterAll(() => {
    for (const created of jobs) created.cleanup();
    for (const stop of stoppers) stop();
    lab?.destroy();
  });

  test('allowed names (exact, *.suffix of any depth, through a CNAME) resolve and connect; others are NXDOMAIN violations with the name', async () => {
    const run = job({ 'allowed-endpoints': `*.allowed.${zone}:8080\nexact.${zone}:8080` });
    await run.start();
    expect(inRunner(['cat', '/etc/resolv.conf']).stdout).toMatch(/^nameserver 127\.\d+\.\d+\.\d+$/m);
    expect(inRunner(['cat', '/etc/resolv.conf']).stdout).not.toContain(upstream);
    // glibc (curl), Python and Node each resolve through the forwarder, and the answers' addresses are let through.
    expect(curl(`api.allowed.${zone}`)).toBe('200');
    expect(curl(`deep.x.allowed.${zone}`)).toBe('200');
    expect(curl(`cdn.allowed.${zone}`)).toBe('200');
    expect(
      inRunner(['python3', '-c', `import socket; print(socket.gethostbyname('exact.${zone}'))`]).stdout.trim(),
    ).toBe(allowed4);
    const node = inRunner([
      process.execPath,
      '-e',
      `require('dns').lookup('api.allowed.${zone}', { family: 4 }, (e, a) => console.log(e ? e.code : a))`,
    ]);
    expect(node.stdout.trim()).toBe(allowed4);
    // `allowed.dg.test` itself is not under `*.allowed.dg.test`; a name of another domain is refused, and so is its address.
    expect(digStatus(`allowed.${zone}`)).toBe('NXDOMAIN');
    expect(digStatus(`forbidden.${zone}`)).toBe('NXDOMAIN');
    expect(curl(`forbidden.${zone}`)).toBe('000');
    expect(curl(forbidden4)).toBe('000');
    // A DNS tunnel: data in long random labels under a domain the upstream would answer (a wildcard) — never asked.
    const tunnel = `${'a9f3c2e1'.repeat(7)}.${'0b1c2d3e'.repeat(6)}.exfil.${zone}`;
    expect(digStatus(tunnel)).toBe('NXDOMAIN');
    expect(digStatus(`x.exfil.${zone}`, upstream)).toBe('NOERROR'); // as root: the sentinel's own path (see README)
    // Direct DNS to another resolver is refused; so is the upstream itself for anyone but root.
    expect(digStatus(`api.allowed.${zone}`, '198.18.2.2')).toBe('no answer');
    expect(digStatus(`x.exfil.${zone}`, upstream, 65534)).toBe('no answer');
    // A container on a default bridge gets a public resolver instead of a loopback one (Docker puts 8.8.8.8 there):
    // its queries are forwarded through the runner, refused, and reported.
    const container = spawnSync(
      'ip',
      ['netns', 'exec', lab.container, 'dig', `@${forbidden4}`, `api.allowed.${zone}`, '+time=1', '+tries=1'],
      { encoding: 'utf8' },
    );
    expect(container.stdout).not.toMatch(/status: NOERROR/);
    const stopped = await run.step({ stop: 'true' }).main();
    expect(stopped.exitCode).toBe(1);
    const report = run.report() as ReturnType<Job['report']> & { dns: Record<string, unknown> };
    expect(report.violations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ protocol: 'dns', port: 53, name: `forbidden.${zone}`, blocked: true }),
        expect.objectContaining({ protocol: 'dns', name: `allowed.${zone}` }),
        expect.objectContaining({ protocol: 'dns', name: tunnel, 'query-type': 'A' }),
        expect.objectContaining({ address: forbidden4, port: 8080, protocol: 'tcp', blocked: true }),
        expect.objectContaining({ address: '198.18.2.2', port: 53, protocol: 'udp', blocked: true }),
        expect.objectContaining({ address: upstream, port: 53, protocol: 'udp', blocked: true }),
        expect.objectContaining({ address: forbidden4, port: 53, protocol: 'udp', blocked: true }),
      ]),
    );
    // Nothing to the allowed names' addresses on port 8080 is a violation.
    expect(report.violations).not.toEqual(
      expect.arrayContaining([expect.objectContaining({ address: allowed4, port: 8080 })]),
    );
    const wildcard = report.allowed.find((item) => item.entry === `*.allowed.${zone}:8080`) as { names?: unknown };
    expect(wildcard.names).toEqual(
      expect.arrayContaining([
        { name: `api.allowed.${zone}`, addresses: [allowed4] },
        { name: `cdn.allowed.${zone}`, addresses: [allowed4] },
        { name: `deep.x.allowed.${zone}`, addresses: [allowed4] },
      ]),
    );
    // The stop step's report is an interim one: the forwarder answers until the post step, which puts the resolver
    // back as it was.
    expect(report.dns).toMatchObject({ policy: 'allowed-names-only', upstream: [upstream], restored: false });
    expect((await run.post()).exitCode).toBe(1);
    expect((run.report() as typeof report).dns).toMatchObject({
      policy: 'allowed-names-only',
      upstream: [upstream],
      restored: true,
    });
    expect(inRunner(['cat', '/etc/resolv.conf']).stdout).toBe(`nameserver ${upstream}\n`);
    expect(stopped.summary).toContain(`DNS forbidden.${zone} (A)`);
  });

  test('an address change mid-job is followed; a flow to an address whose time ran out is not cut, a new one is', async () => {
    const run = job({ 'allowed-endpoints': `*.allowed.${zone}` });
    await run.start();
    // A UDP flow to the echo server by name, kept open; the script waits for a line before its second and third try.
    const client = spawn(
      'ip',
      [
        'netns',
        'exec',
        lab.runner,
        'python3',
        '-u',
        '-c',
        `
import socket, sys
def echo(s):
  try:
    s.send(b'ping'); s.settimeout(2); s.recv(100); return 'ok'
  except OSError as e: return 'failed'
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((socket.gethostbyname('moving.allowed.${zone}'), 5353))
print(s.getpeername()[0], echo(s))
sys.stdin.readline()
fresh = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fresh.connect(s.getpeername())
print(echo(s), echo(fresh))
`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
    expect((await lines.next()).value).toBe(`${allowed4} ok`);
    // The answer's address is in the set for its TTL (1 s) plus the grace (30 s).
    const set = inRunner(['nft', 'list', 'set', 'inet', 'deploy_gates_egress', 'dns4any']).stdout;
    expect(set).toMatch(new RegExp(`${allowed4.replace(/\./g, '\\.')} timeout 31s expires`));
    expect(curl(moved4)).toBe('000'); // not allowed yet
    await nsd.update(records(moved4));
    await wait(1_200); // the old answer's TTL (1 s)
    expect(curl(`moving.allowed.${zone}`)).toBe('200');
    // The old address's time in the set runs out (TTL + grace): as the kernel would, the element goes.
    inRunner(['nft', 'delete', 'element', 'inet', 'deploy_gates_egress', 'dns4any', `{ ${allowed4} }`]);
    client.stdin!.write('go\n');
    expect((await lines.next()).value).toBe('ok failed');
    await run.step({ stop: 'true' }).main();
    const report = run.report();
    const names = (
      report.allowed.find((item) => item.entry === `*.allowed.${zone}`) as {
        names?: { name: string; addresses: string[] }[];
      }
    ).names;
    expect(names).toEqual([{ name: `moving.allowed.${zone}`, addresses: [allowed4, moved4] }]);
    expect(report.violations).toHaveLength(2);
    expect(report.violations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ address: moved4, port: 8080, blocked: true }),
        expect.objectContaining({ address: allowed4, port: 5353, protocol: 'udp', blocked: true }),
      ]),
    );
    await nsd.update(records(allowed4));
  });

  test('without a stop step the post step restores resolv.conf, also after the monitor was killed (a cancelled job runs post)', async () => {
    const run = job({ 'allowed-endpoints': `*.allowed.${zone}:8080` });
    await run.start();
    expect(inRunner(['cat', '/etc/resolv.conf']).stdout).not.toContain(upstream);
    expect(curl(`api.allowed.${zone}`)).toBe('200');
    process.kill(run.monitorPid(), 'SIGKILL');
    const post = await run.post();
    expect(post.exitCode).toBe(1);
    expect(run.report()).toMatchObject({ tampered: true, complete: false, dns: { restored: true } });
    // What happened after the monitor's last record was not seen: the report says so, not "all clear".
    expect(run.report().incomplete.at(-1)!.reason).toBe(
      'the monitor ended before it was stopped: connections after its last record were not seen',
    );
    expect(inRunner(['cat', '/etc/resolv.conf']).stdout).toBe(`nameserver ${upstream}\n`);
    expect(digStatus(`forbidden.${zone}`)).toBe('NOERROR');
  });

  test('dns-policy: any keeps the resolvers open and refuses a name pattern in block mode', async () => {
    const run = job({ 'allowed-endpoints': `*.allowed.${zone}:8080`, 'dns-policy': 'any' });
    const main = await run.main();
    expect(main.exitCode).toBe(1);
    expect(main.log).toContain('cannot be enforced in block mode with dns-policy: any');
    const open = job({ 'allowed-endpoints': `exact.${zone}:8080`, 'dns-policy': 'any' });
    await open.start();
    expect(inRunner(['cat', '/etc/resolv.conf']).stdout).toBe(`nameserver ${upstream}\n`);
    expect(digStatus(`forbidden.${zone}`)).toBe('NOERROR');
    expect(curl(`exact.${zone}`)).toBe('200');
    await open.step({ stop: 'true' }).main();
    expect(open.report().violations).toEqual([]);
  });
});
