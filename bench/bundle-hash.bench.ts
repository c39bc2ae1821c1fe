// bundle-hash: SHA-256 of a 1 GiB bundle with verify-bundle-sha's hasher (core/bundle/hash.ts) against
// `openssl dgst -sha256` and `sha256sum` on the same file, interleaved (ours, openssl, sha256sum, node stream, …) for
// ROUNDS rounds, plus a default Node stream (createReadStream → createHash) for reference. Ours runs in a child
// process that reports its own hashing time and its peak RSS (maxRSS), so the memory figure is the hasher's alone.
// Targets: ≥ 0.9× OpenSSL's throughput; peak RSS under 100 MiB whatever the size.
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';

const SIZE = Number(process.env.BUNDLE_BYTES ?? 1024 ** 3);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const dir = await mkdtemp(join(tmpdir(), 'dg-bench-hash-'));
const file = join(dir, 'bundle.tar.gz');

const child = (code: string) => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, file], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { sha256: string; seconds: number; maxRssKiB: number };
};
const ours = () =>
  child(`import { sha256File } from '#core/bundle/hash.js';
const t = performance.now(); const { sha256 } = await sha256File(process.argv[1]);
console.log(JSON.stringify({ sha256, seconds: (performance.now() - t) / 1000, maxRssKiB: process.resourceUsage().maxRSS }));`);
const nodeStream = () =>
  child(`import { createHash } from 'node:crypto'; import { createReadStream } from 'node:fs';
const t = performance.now(); const hash = createHash('sha256');
for await (const chunk of createReadStream(process.argv[1])) hash.update(chunk);
console.log(JSON.stringify({ sha256: hash.digest('hex'), seconds: (performance.now() - t) / 1000, maxRssKiB: process.resourceUsage().maxRSS }));`);
const tool = (command: string, args: string[], pick: (out: string) => string) => () => {
  const started = performance.now();
  const result = spawnSync(command, [...args, file], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return { sha256: pick(result.stdout), seconds: (performance.now() - started) / 1000, maxRssKiB: 0 };
};
const ways = {
  'verify-bundle-sha (hash.ts)': ours,
  'openssl dgst -sha256': tool('openssl', ['dgst', '-sha256', '-r'], (out) => out.split(' ')[0]!),
  sha256sum: tool('sha256sum', [], (out) => out.split(' ')[0]!),
  'node stream (default 64 KiB)': nodeStream,
};

try {
  // Random bytes (a bundle does not compress), written in 16 MiB chunks.
  const out = createWriteStream(file);
  const chunk = Buffer.alloc(16 * 1024 * 1024);
  for (let written = 0; written < SIZE; written += chunk.length) {
    randomFillSync(chunk);
    if (!out.write(chunk.subarray(0, Math.min(chunk.length, SIZE - written))))
      await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(ways).map((name) => [name, []]));
  let peak = 0;
  const hashes = new Set<string>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, way] of Object.entries(ways)) {
      const result = way();
      times[name]!.push(result.seconds);
      hashes.add(result.sha256);
      if (name.startsWith('verify')) peak = Math.max(peak, result.maxRssKiB);
    }
  }
  if (hashes.size !== 1) throw new Error(`the ways disagree: ${[...hashes].join(', ')}`);
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const gib = SIZE / 1024 ** 3;
  const openssl = median(times['openssl dgst -sha256']!);
  console.log(
    `${gib.toFixed(2)} GiB, ${ROUNDS} interleaved rounds, median seconds (ours and node stream: hashing time inside the process)`,
  );
  console.log('way                              seconds   GiB/s   throughput vs openssl');
  for (const [name, values] of Object.entries(times)) {
    const seconds = median(values);
    console.log(
      `${name.padEnd(32)} ${seconds.toFixed(2).padStart(7)}  ${(gib / seconds).toFixed(2).padStart(6)}   ${(openssl / seconds).toFixed(2)}x`,
    );
  }
  const ratio = openssl / median(times['verify-bundle-sha (hash.ts)']!);
  console.log('');
  console.log(
    `ratio: verify-bundle-sha hashes at ${ratio.toFixed(2)}x openssl's throughput (target ≥ 0.90x), ${(median(times.sha256sum!) / median(times['verify-bundle-sha (hash.ts)']!)).toFixed(2)}x sha256sum's; peak RSS of the hashing process ${(peak / 1024).toFixed(1)} MiB (target < 100 MiB)`,
  );
  if (ratio < 0.9 || peak / 1024 >= 100) process.exitCode = 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}
