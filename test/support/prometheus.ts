import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real Prometheus (Debian's `prometheus`, installed by .ci/run) on loopback for the watch-window tests: its
 * config and TSDB in a temp dir named with the pid, listening on an ephemeral port (it logs the one it got),
 * scraping the given targets every second. Slow-ish to start (~1 s): start one per test file.
 */
export interface TestPrometheus {
  url: string;
  log(): string;
  /** Waits until `expr` answers a value that satisfies `ok` (e.g. a scrape has seen a counter's new value). */
  until(expr: string, ok: (value: number) => boolean, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startPrometheus(targets: readonly string[]): Promise<TestPrometheus> {
  if (spawnSync('sh', ['-c', 'command -v prometheus']).status !== 0)
    throw new Error('prometheus is not installed; these tests need it (apt-get install prometheus, as .ci/run does)');
  const dir = mkdtempSync(join(tmpdir(), `prometheus-${process.pid}-`));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]\n`,
  );
  const child = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      '--web.listen-address=127.0.0.1:0',
      '--query.lookback-delta=30s',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const url = await ready(() => output, child.pid!, stop);
  const query = async (expr: string) => {
    const response = await fetch(`${url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: expr }) });
    const body = (await response.json()) as { data?: { result?: { value: [number, string] }[] } };
    const value = body.data?.result?.[0]?.value[1];
    return value === undefined ? Number.NaN : Number(value);
  };
  const until = async (expr: string, ok: (value: number) => boolean, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await query(expr);
      if (ok(value)) return value;
      if (Date.now() > deadline) throw new Error(`${expr} = ${value} after ${timeoutMs} ms:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  return { url, log: () => output, until, stop };
}

/** The address Prometheus logs (`msg="Listening on" address=127.0.0.1:41234`), then `/-/ready` answering 200. */
async function ready(log: () => string, pid: number, stop: () => Promise<void>): Promise<string> {
  for (let tries = 0; tries < 300; tries++) {
    const port = /msg="Listening on" address=127\.0\.0\.1:(\d+)/.exec(log())?.[1];
    if (port) {
      const url = `http://127.0.0.1:${port}`;
      const answer = await fetch(`${url}/-/ready`).catch(() => undefined);
      if (answer?.status === 200) return url;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error(`prometheus (pid ${pid}) was not ready within 15s:\n${log()}`);
}

/** A tiny exporter: counters the test drives, served at /metrics in Prometheus' text format. */
export interface Exporter {
  /** host:port, a scrape target. */
  target: string;
  add(name: string, labels: string, by: number): void;
  close(): Promise<void>;
}

export async function startExporter(): Promise<Exporter> {
  const counters = new Map<string, number>();
  const server: Server = createServer((_req, res) => {
    const names = new Set([...counters.keys()].map((key) => key.split('{')[0]!));
    const lines = [...names].flatMap((name) => [
      `# TYPE ${name} counter`,
      ...[...counters].filter(([key]) => key.startsWith(`${name}{`)).map(([key, value]) => `${key} ${value}`),
    ]);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`${lines.join('\n')}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    add: (name, labels, by) => counters.set(`${name}{${labels}}`, (counters.get(`${name}{${labels}}`) ?? 0) + by),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
