/**
 * egress-sentinel: how many of 1,000 sub-millisecond connections to a host outside the allow-list each detection
 * method reports (kernel connection tracking vs the /proc/net polling fallback; the limit is 100 %), and the CPU the
 * idle monitor uses over 30 s (target: under 2 % of one core). Runs as root in network namespaces (see
 * test/support/netns.ts) with the built dist/egress-sentinel/index.js started as the monitor, as the main step does.
 * Rounds are interleaved (conntrack, polling, conntrack, polling) so a busy neighbour slows both alike.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AllowEntry } from '#core/egress/allow.js';
import type { Method, MonitorConfig } from '#core/egress/monitor-config.js';
import type { Snapshot } from '#core/egress/snapshot.js';
import { emptyElements, rulesetScript } from '#core/egress/nft.js';
import { MONITOR_ARGUMENT, POLL_INTERVAL_MS } from '#core/egress/sentinel.js';
import { createLab, labUnavailable } from '../test/support/netns.js';
import { distFile, node24 } from '../test/support/paths.js';

const CONNECTIONS = 1_000;
const ROUNDS = 2; // per method and pattern: CONNECTIONS / ROUNDS connections each
const IDLE_SECONDS = Number(process.env.IDLE_SECONDS ?? 30);
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const unavailable = labUnavailable();
if (unavailable) {
  console.log(`SKIPPED: ${unavailable}`);
  process.exit(0);
}

const lab = createLab('b');
const temp = mkdtempSync(join(tmpdir(), 'egress-bench-'));
const inRunner = (command: string[], input?: string) =>
  spawnSync('ip', ['netns', 'exec', lab.runner, ...command], { input, encoding: 'utf8' });

/** Makes `count` connections one after another; `serverCloses`: the server ends each at once (no TIME_WAIT left on the client). */
const CLIENT = `
const net = require('node:net');
const [host, port, count] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const durations = [];
(async () => {
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    await new Promise((done) => {
      const socket = net.connect(port, host);
      socket.resume();
      socket.on('error', done);
      socket.on('end', () => { socket.destroy(); durations.push(Number(process.hrtime.bigint() - started) / 1e6); done(); });
      socket.on('connect', () => { if (port === 8081) { socket.destroy(); durations.push(Number(process.hrtime.bigint() - started) / 1e6); done(); } });
    });
  }
  durations.sort((a, b) => a - b);
  console.log(JSON.stringify({ median: durations[Math.floor(durations.length / 2)], p99: durations[Math.floor(durations.length * 0.99)] }));
})();
`;

interface Monitor {
  pid: number;
  dir: string;
  snapshot(): Snapshot | undefined;
  stop(): Promise<Snapshot>;
}

/** `mode: block` (conntrack only): the rules are the caller's; the monitor also reads the refused-destination sets every 2 s. */
async function startMonitor(
  method: Method,
  mode: 'audit' | 'block' = 'audit',
  install = method === 'conntrack' && mode === 'audit',
): Promise<Monitor> {
  const dir = mkdtempSync(join(temp, `${method}-`));
  if (install)
    inRunner(
      ['nft', '-f', '-'],
      rulesetScript({ mode: 'audit', allowLoopback: true, marker: 'bench' }, emptyElements()),
    );
  const entries: AllowEntry[] = [
    { kind: 'network', text: '198.18.1.2:5432', address: '198.18.1.2', prefix: 32, family: 4, port: 5432 },
  ];
  const config: MonitorConfig = {
    snapshotPath: join(dir, 'snapshot.json'),
    method,
    mode,
    privilege: { prefix: [] },
    entries,
    resolved: {},
    resolveIntervalMs: 30_000,
    pollIntervalMs: POLL_INTERVAL_MS,
    marker: 'bench',
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  // `ip netns exec` replaces itself with the command: the child's pid is the monitor's.
  const child = spawn(
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
  // The stop secret on its stdin (stopped here by SIGTERM, which needs none).
  child.stdin!.end(`${'0'.repeat(64)}\n`);
  const read = () => {
    try {
      return JSON.parse(readFileSync(config.snapshotPath, 'utf8')) as Snapshot;
    } catch {
      return undefined;
    }
  };
  while (!read()?.ready) await wait(50);
  return {
    pid: child.pid!,
    dir,
    snapshot: read,
    async stop() {
      child.kill('SIGTERM');
      while (!read()?.stopped) await wait(50);
      if (install) inRunner(['nft', 'delete', 'table', 'inet', 'deploy_gates_egress']);
      return read()!;
    },
  };
}

/** utime + stime of a process, of the children it waited for (nft reads) and of its live ones (the conntrack listener), in clock ticks. */
function cpuTicks(pid: number): number {
  const ticks = (id: string) => {
    try {
      const fields = readFileSync(`/proc/${id}/stat`, 'utf8')
        .replace(/^.*\) /, '')
        .split(' ');
      return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      return 0;
    }
  };
  const children = readdirSync(`/proc/${pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean),
  );
  return ticks(String(pid)) + children.reduce((sum, child) => sum + ticks(child), 0);
}

try {
  await lab.serve(lab.outside, [8080, 8081], 5353);
  // Idle first (before the rounds leave thousands of TIME_WAIT sockets for polling to read): three monitors side by
  // side for IDLE_SECONDS, nothing connecting.
  // The block monitor needs the block rules (its sets); the audit one only their `ct state new` rule, which they hold too.
  inRunner(
    ['nft', '-f', '-'],
    rulesetScript(
      { mode: 'block', allowLoopback: true, marker: 'bench' },
      { ...emptyElements(), port4: ['198.18.1.2 . 5432'] },
    ),
  );
  const idle = [
    await startMonitor('conntrack', 'audit', false),
    await startMonitor('conntrack', 'block'),
    await startMonitor('proc-poll'),
  ];
  await wait(1_000);
  const before = idle.map((monitor) => cpuTicks(monitor.pid));
  const started = Date.now();
  await wait(IDLE_SECONDS * 1_000);
  const seconds = (Date.now() - started) / 1000;
  const hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  const percent = idle.map((monitor, i) => ((cpuTicks(monitor.pid) - before[i]!) / hz / seconds) * 100);
  for (const monitor of idle) await monitor.stop();
  inRunner(['nft', 'delete', 'table', 'inet', 'deploy_gates_egress']);
  console.log(
    `idle CPU over ${seconds.toFixed(0)} s (monitor, its conntrack listener, its nft reads): conntrack ${percent[0]!.toFixed(2)} % of a core, conntrack in block mode ${percent[1]!.toFixed(2)} %, polling ${percent[2]!.toFixed(2)} % (target < 2 %)`,
  );
  const patterns = [
    { name: 'server closes first', port: 8080 },
    { name: 'client closes first', port: 8081 },
  ];
  const detected: Record<string, number> = {};
  const durations: Record<string, { median: number; p99: number }[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const method of ['conntrack', 'proc-poll'] as const) {
      for (const pattern of patterns) {
        const monitor = await startMonitor(method);
        const out = inRunner([node24, '-e', CLIENT, '198.18.2.2', String(pattern.port), String(CONNECTIONS / ROUNDS)]);
        if (out.status !== 0) throw new Error(`client failed: ${out.stderr}`);
        (durations[pattern.name] ??= []).push(JSON.parse(out.stdout));
        await wait(300);
        const snapshot = await monitor.stop();
        const key = `${method} / ${pattern.name}`;
        detected[key] =
          (detected[key] ?? 0) +
          (snapshot.destinations.find((item) => item.address === '198.18.2.2' && item.port === pattern.port)?.count ??
            0);
      }
    }
  }
  console.log(
    `Node ${process.versions.node}; ${CONNECTIONS} connections per method and pattern, in ${ROUNDS} interleaved rounds; polling every ${POLL_INTERVAL_MS} ms`,
  );
  for (const pattern of patterns) {
    const list = durations[pattern.name]!;
    console.log(
      `  ${pattern.name}: connection time median ${Math.max(...list.map((item) => item.median)).toFixed(3)} ms, p99 ${Math.max(...list.map((item) => item.p99)).toFixed(3)} ms`,
    );
  }
  for (const pattern of patterns) {
    const conntrack = detected[`conntrack / ${pattern.name}`]!;
    const poll = detected[`proc-poll / ${pattern.name}`]!;
    console.log(
      `${pattern.name.padEnd(20)} conntrack ${conntrack}/${CONNECTIONS} (${((conntrack / CONNECTIONS) * 100).toFixed(1)} %)   polling ${poll}/${CONNECTIONS} (${((poll / CONNECTIONS) * 100).toFixed(1)} %)   ${poll > 0 ? `ratio ${(conntrack / poll).toFixed(1)}×` : 'ratio: polling saw none'}`,
    );
  }
} finally {
  lab.destroy();
  rmSync(temp, { recursive: true, force: true });
}
