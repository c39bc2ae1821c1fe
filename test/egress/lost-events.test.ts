import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MonitorConfig } from '#core/egress/monitor-config.js';
import { emptyElements, rulesetScript } from '#core/egress/nft.js';
import { MONITOR_ARGUMENT, POLL_INTERVAL_MS, stopSentinel, type SentinelState } from '#core/egress/sentinel.js';
import { createLab, labUnavailable, type Lab } from '../support/netns.js';
import { distFile, node24 } from '../support/paths.js';
import { conntrackListenerOf } from '../support/processes.js';

// No event lost silently: the kernel drops connection events when the listener's netlink buffer overflows (ENOBUFS).
// Here the buffer is made tiny and the listener held still while thousands of loopback flows are opened; a connection
// to the outside made then is lost as an event, and must be found by the table dump the monitor answers with, the
// report saying `complete: false` with the window.
const unavailable = labUnavailable();
if (unavailable) console.warn(`\n\n!!! egress-sentinel lost-events tests SKIPPED: ${unavailable} !!!\n\n`);
const describeLab = unavailable ? describe.skip : describe;

const outside4 = '198.18.2.2';
const secret = randomBytes(32).toString('hex');
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeLab('egress-sentinel when the kernel drops connection events', () => {
  let lab: Lab;
  let dir: string;
  let monitor: ChildProcess | undefined;
  const inRunner = (command: string[]) =>
    spawnSync('ip', ['netns', 'exec', lab.runner, ...command], { encoding: 'utf8' });

  beforeAll(async () => {
    lab = createLab('n');
    await lab.serve(lab.outside, [443], 5353);
    dir = mkdtempSync(join(tmpdir(), 'egress-lost-'));
  }, 60_000);
  afterAll(() => {
    if (monitor?.pid) spawnSync('kill', ['-KILL', String(monitor.pid)]);
    rmSync(dir, { recursive: true, force: true });
    lab?.destroy();
  });

  /** The monitor as main starts it, with a netlink buffer of `bufferBytes`; resolves once it is ready. */
  async function startMonitor(bufferBytes: number): Promise<SentinelState> {
    inRunner(['nft', '-f', writeScript()]);
    const config: MonitorConfig = {
      snapshotPath: join(dir, 'snapshot.json'),
      method: 'conntrack',
      mode: 'audit',
      privilege: { prefix: [] },
      entries: [{ kind: 'network', text: '198.18.1.2:5432', address: '198.18.1.2', prefix: 32, family: 4, port: 5432 }],
      resolved: {},
      resolveIntervalMs: 30_000,
      pollIntervalMs: POLL_INTERVAL_MS,
      requestDir: dir,
      marker: 'lost',
      bufferBytes,
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    monitor = spawn(
      'ip',
      [
        'netns',
        'exec',
        lab.runner,
        node24,
        distFile('egress-sentinel', 'monitor.js'),
        MONITOR_ARGUMENT,
        join(dir, 'config.json'),
      ],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    monitor.stdin!.end(`${secret}\n`);
    const ready = () => {
      try {
        return (JSON.parse(readFileSync(config.snapshotPath, 'utf8')) as { ready: boolean }).ready;
      } catch {
        return false;
      }
    };
    while (!ready()) await wait(50);
    return {
      marker: 'lost',
      dir,
      configPath: join(dir, 'config.json'),
      snapshotPath: config.snapshotPath,
      pid: monitor.pid!,
      method: 'conntrack',
      config: { entries: config.entries, mode: 'audit', allowDns: false, allowLoopback: true },
      devices: [],
      rawNote: 'not filtered',
      exceptions: [],
      dnsServers: [],
      resolved: {},
      startedAt: new Date().toISOString(),
      scope: 'machine',
    };
  }

  const writeScript = () => {
    const path = join(dir, 'audit.nft');
    writeFileSync(path, rulesetScript({ mode: 'audit', allowLoopback: true, marker: 'lost' }, emptyElements()));
    return path;
  };

  test('a connection whose event the kernel dropped (ENOBUFS) is found by the table dump; the report is not complete', async () => {
    const state = await startMonitor(4096);
    const listener = conntrackListenerOf(state.pid)!;
    expect(listener).toBeGreaterThan(0);
    process.kill(listener, 'SIGSTOP');
    try {
      // 3,000 loopback UDP flows (each its own socket: a NEW event each) fill the tiny buffer many times over; then
      // one datagram to the outside host, whose event has no room left.
      const flood = `import socket\nfor i in range(3000):\n  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n  s.sendto(b'x', ('127.0.0.1', 20000 + i % 1000))\n  s.close()\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'secret', ('${outside4}', 5353))\nprint('sent')`;
      expect(inRunner(['python3', '-c', flood]).stdout.trim()).toBe('sent');
    } finally {
      process.kill(listener, 'SIGCONT');
    }
    await wait(1_500);
    const { report } = await stopSentinel(state, secret);
    expect(report.violations).toEqual(
      expect.arrayContaining([expect.objectContaining({ address: outside4, port: 5353, protocol: 'udp', count: 1 })]),
    );
    expect(report.complete).toBe(false);
    expect(report.incomplete).toEqual([
      expect.objectContaining({ reason: expect.stringContaining('ENOBUFS'), from: expect.any(String) }),
    ]);
    inRunner(['nft', 'delete', 'table', 'inet', 'deploy_gates_egress']);
  });
});
