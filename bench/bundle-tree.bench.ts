// bundle-tree: pack-bundle and verify-bundle-sha on a tree of TREE_ENTRIES entries (default 30,000: a node_modules-
// sized app, with `@scope` folders), each in a child process that reports its time and peak RSS (maxRSS), interleaved
// with GNU tar doing the same work (tar czf / tar xzf) for ROUNDS rounds; then the one-pass read of a large bundle
// (hash + gunzip + strict parse + each file's SHA-256, from one open file) against `openssl dgst -sha256` on the same
// file and against C tools doing the same hashing work (`tee >(openssl dgst) | gzip -dc | openssl dgst`).
// The children run deploy-gates' code bundled into one plain JavaScript file by esbuild, as the runner runs dist/
// (ncc): under the tsx loader the same code starts 23 MiB higher (65 MiB instead of 42 MiB before reading a byte).
// Targets: peak RSS < 100 MiB for pack, verify and the read; the read's hashing ≥ 0.9× openssl's throughput.
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildSync } from 'esbuild';

const ENTRIES = Number(process.env.TREE_ENTRIES ?? 30_000);
const BIG = Number(process.env.BUNDLE_BYTES ?? 512 * 1024 ** 2);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const dir = await mkdtemp(join(tmpdir(), 'dg-bench-tree-'));

interface Measured {
  seconds: number;
  maxRssKiB: number;
  detail?: string;
}
let programs = 0;
/** Runs `code` (TypeScript importing `#core/…`) bundled into one JavaScript file, in a child process of its own. */
const child = (code: string, ...args: string[]): Measured => {
  const outfile = join(dir, `program-${++programs}.mjs`);
  buildSync({
    stdin: { contents: code, resolveDir: process.cwd(), loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'warning',
  });
  const result = spawnSync(process.execPath, [outfile, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Measured;
};
const report = `console.log(JSON.stringify({ seconds: (performance.now() - t) / 1000, maxRssKiB: process.resourceUsage().maxRSS, detail }));`;
const tool = (command: string, args: string[]): Measured => {
  const started = performance.now();
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return { seconds: (performance.now() - started) / 1000, maxRssKiB: 0 };
};

/** ENTRIES entries: folders of 20 files of 200–2,000 bytes, every tenth folder an `@scope`. */
function makeTree(root: string): void {
  let count = 0;
  for (let d = 0; count < ENTRIES; d++) {
    const folder = join(root, d % 10 === 0 ? `@scope-${d}` : `pkg-${d}`, 'lib');
    mkdirSync(folder, { recursive: true });
    count += 2;
    for (let f = 0; f < 20 && count < ENTRIES; f++, count++)
      writeFileSync(join(folder, `file-${f}.js`), randomBytes(100 + ((d * 31 + f * 17) % 900)).toString('hex'));
  }
}

const pack = (round: number) =>
  child(
    `import { packBundle } from '#core/bundle/pack.js';
const t = performance.now();
const r = await packBundle({ dir: process.argv[2], name: 'b-${round}', exclude: [], outputDir: process.argv[3], mtime: new Date(0) });
const detail = r.files + ' entries, ' + r.size + ' bytes';
${report}`,
    join(dir, 'tree'),
    join(dir, 'out'),
  );
const verify = (round: number) =>
  child(
    `import { unpackLocal } from '#core/bundle/unpack-local.js';
const t = performance.now();
await unpackLocal(process.argv[2], process.argv[3], 'r-${round}', 2 ** 34);
const detail = '';
${report}`,
    join(dir, 'out', 'b-0.tar.gz'),
    join(dir, 'releases'),
  );
const readOnce = () =>
  child(
    `import { readBundle } from '#core/bundle/unpack.js';
const t = performance.now();
const r = await readBundle(process.argv[2], 2 ** 34);
if (r.refusal) throw r.refusal;
const detail = String(r.size + r.scan.contentBytes);
${report}`,
    join(dir, 'big.tar.gz'),
  );

try {
  makeTree(join(dir, 'tree'));
  mkdirSync(join(dir, 'releases'));
  const rows: Record<string, Measured[]> = {
    'pack-bundle (pack.ts)': [],
    'tar czf (GNU tar)': [],
    'verify + unpack (unpack-local.ts)': [],
    'tar xzf (GNU tar)': [],
  };
  for (let round = 0; round < ROUNDS; round++) {
    rows['pack-bundle (pack.ts)']!.push(pack(round));
    rows['tar czf (GNU tar)']!.push(
      tool('tar', ['czf', join(dir, `gnu-${round}.tar.gz`), '-C', join(dir, 'tree'), '.']),
    );
    rows['verify + unpack (unpack-local.ts)']!.push(verify(round));
    const into = join(dir, `gnu-x-${round}`);
    mkdirSync(into);
    rows['tar xzf (GNU tar)']!.push(tool('tar', ['xzf', join(dir, 'out', 'b-0.tar.gz'), '-C', into]));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  console.log(`${rows['pack-bundle (pack.ts)']![0]!.detail}, ${ROUNDS} interleaved rounds, median`);
  console.log('way                                  seconds   peak RSS MiB');
  for (const [name, values] of Object.entries(rows))
    console.log(
      `${name.padEnd(36)} ${median(values.map((v) => v.seconds))
        .toFixed(2)
        .padStart(
          7,
        )}   ${values[0]!.maxRssKiB ? (Math.max(...values.map((v) => v.maxRssKiB)) / 1024).toFixed(1) : '-'}`,
    );
  const packPeak = Math.max(...rows['pack-bundle (pack.ts)']!.map((v) => v.maxRssKiB)) / 1024;
  const verifyPeak = Math.max(...rows['verify + unpack (unpack-local.ts)']!.map((v) => v.maxRssKiB)) / 1024;
  const packRatio =
    median(rows['tar czf (GNU tar)']!.map((v) => v.seconds)) /
    median(rows['pack-bundle (pack.ts)']!.map((v) => v.seconds));
  const unpackRatio =
    median(rows['tar xzf (GNU tar)']!.map((v) => v.seconds)) /
    median(rows['verify + unpack (unpack-local.ts)']!.map((v) => v.seconds));

  // One big bundle (incompressible contents): the one-pass read against openssl on the same file.
  const body = join(dir, 'big');
  mkdirSync(body);
  const chunk = randomBytes(16 * 1024 * 1024);
  for (let i = 0; i * chunk.length < BIG; i++)
    writeFileSync(
      join(body, `part-${i}.bin`),
      chunk.map((b, j) => b ^ i ^ j),
    );
  spawnSync('tar', ['czf', join(dir, 'big.tar.gz'), '-C', body, '.']);
  const bundle = join(dir, 'big.tar.gz');
  const bundleBytes = statSync(bundle).size;
  // The same hashing work by C tools: the compressed bytes, and the uncompressed stream, each by openssl.
  const sameWork = `tee >(openssl dgst -sha256 >/dev/null) < '${bundle}' | gzip -dc | openssl dgst -sha256 >/dev/null`;
  const times: Record<string, number[]> = { once: [], openssl: [], pipeline: [] };
  let readPeak = 0;
  let hashedBytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const read = readOnce();
    times.once!.push(read.seconds);
    hashedBytes = Number(read.detail);
    readPeak = Math.max(readPeak, read.maxRssKiB / 1024);
    times.openssl!.push(tool('openssl', ['dgst', '-sha256', bundle]).seconds);
    times.pipeline!.push(tool('bash', ['-c', sameWork]).seconds);
  }
  const [once, openssl, pipeline] = [median(times.once!), median(times.openssl!), median(times.pipeline!)];
  // Hashing throughput: bytes hashed per second (the bundle, and every file's contents) against openssl's.
  const hashRatio = hashedBytes / once / (bundleBytes / openssl);
  console.log(
    `one-pass read of a ${(bundleBytes / 1024 ** 2).toFixed(0)} MiB bundle (hash + gunzip + parse + SHA-256 of each file, ${(hashedBytes / 1024 ** 2).toFixed(0)} MiB hashed): ${once.toFixed(2)} s; openssl dgst -sha256 of the bundle: ${openssl.toFixed(2)} s; the same hashing by C tools (tee | gzip -dc | openssl): ${pipeline.toFixed(2)} s`,
  );
  console.log('');
  console.log(
    `ratio: pack ${packRatio.toFixed(2)}x GNU tar's speed (peak RSS ${packPeak.toFixed(1)} MiB), verify+unpack ${unpackRatio.toFixed(2)}x GNU tar xzf's (peak RSS ${verifyPeak.toFixed(1)} MiB); one-pass read: hashes ${hashRatio.toFixed(2)}x openssl's throughput (bytes hashed per second), takes ${(openssl / once).toFixed(2)}x openssl's time for the bundle alone and ${(pipeline / once).toFixed(2)}x the C tools' for the same work (peak RSS ${readPeak.toFixed(1)} MiB); targets: RSS < 100 MiB, hashing ≥ 0.90x`,
  );
  if (packPeak >= 100 || verifyPeak >= 100 || readPeak >= 100 || hashRatio < 0.9) process.exitCode = 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}
