import { spawn } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startServer, type TestServer } from './http-server.js';
import { repoRoot } from './paths.js';

/** Release names the way pack-bundle makes them: `<YYYYMMDD_HHMMSS>-<sha8>`, sorting by time. */
export const releaseName = (n: number) =>
  `202501${String(10 + n).padStart(2, '0')}_120000-${n.toString(16).padStart(8, 'a')}`;

/** Makes releases-root with releases/<name>/marker (holding the name) for each name. */
export async function makeReleases(root: string, names: readonly string[]): Promise<void> {
  await mkdir(join(root, 'releases'), { recursive: true });
  for (const name of names) {
    await mkdir(join(root, 'releases', name), { recursive: true });
    await writeFile(join(root, 'releases', name, 'marker'), name);
  }
}

/** Every path under root with its kind (and symlink target), to prove that nothing changed. */
export function treeListing(root: string): string[] {
  const lines: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry);
      const stat = lstatSync(path);
      const rel = `${prefix}${entry}`;
      if (stat.isSymbolicLink()) lines.push(`${rel} -> ${readlinkSync(path)}`);
      else if (stat.isDirectory()) {
        lines.push(`${rel}/`);
        walk(path, `${rel}/`);
      } else lines.push(`${rel} (${stat.size})`);
    }
  };
  walk(root, '');
  return lines;
}

export interface ReaderReport {
  reads: number;
  failures: number;
  seen: string[];
  errors: string[];
}

/** Starts the concurrent `current` reader (test/support/current-reader.mjs); resolves once it is reading. */
export async function startReader(
  node: string,
  root: string,
  stopFile: string,
): Promise<{ done: Promise<ReaderReport> }> {
  const child = spawn(node, [join(repoRoot, 'test/support/current-reader.mjs'), root, stopFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  let resolveReport: (report: ReaderReport) => void;
  const done = new Promise<ReaderReport>((resolve) => (resolveReport = resolve));
  await new Promise<void>((ready, fail) => {
    child.once('error', fail);
    lines.on('line', (line) => {
      if (line === 'ready') ready();
      else resolveReport(JSON.parse(line) as ReaderReport);
    });
  });
  return { done };
}

/**
 * A loopback server standing in for several services' /health: `GET /<service>/…` answers 200 when
 * `<root(service)>/current/health` holds `ok`, else `unhealthyStatus` with what it holds (`missing` without a current).
 */
export function startServicesHealth(root: (service: string) => string, unhealthyStatus: number): Promise<TestServer> {
  return startServer((req, res) => {
    const name = (req.url ?? '').split('/')[1] ?? '';
    let state = 'missing';
    try {
      state = readFileSync(join(root(name), 'current', 'health'), 'utf8').trim();
    } catch {
      // no current (yet)
    }
    res.writeHead(state === 'ok' ? 200 : unhealthyStatus).end(state);
  });
}
