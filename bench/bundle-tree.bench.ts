// bundle-tree: pack-bundle and verify-bundle-sha on a tree of TREE_ENTRIES entries (default 30,000: a node_modules-
// sized app, with `@scope` folders), each in a child process that reports its time and peak RSS (maxRSS), interleaved
// with GNU tar doing the same work (tar czf / tar xzf) for ROUNDS rounds; then the one-pass read of a large bundle
// (hash + gunzip + strict parse from one open file) against `openssl dgst -sha256` on the same file.
// Targets: peak RSS < 100 MiB for pack and verify; the one-pass read's hashing ≥ 0.9× openssl's throughput.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const ENTRIES = Number(process.env.TREE_ENTRIES ?? 30_000);
const BIG = Number(process.env.BUNDLE_BYTES ?? 512 * 1024 ** 2);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const dir = await mkdtemp(join(tmpdir(), 'dg-bench-tree-'));

interface Measured {
  seconds: number;
  maxRssKiB: number;
  detail?: string;
}
const child = (code: string, ...args: string[]): Measured => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, ...args], {
    encoding: 'utf8',
  });
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
const r = await packBundle({ dir: process.argv[1], name: 'b-${round}', exclude: [], outputDir: process.argv[2], mtime: new Date(0) });
const detail = r.files + ' entries, ' + r.size + ' bytes';
${report}`,
    join(dir, 'tree'),
    join(dir, 'out'),
  );
const verify = (round: number) =>
  child(
    `import { unpackLocal } from '#core/bundle/unpack-local.js';
const t = performance.now();
await unpackLocal(process.argv[1], process.argv[2], 'r-${round}', 2 ** 34);
const detail = '';
${report}`,
    join(dir, 'out', 'b-0.tar.gz'),
    join(dir, 'releases'),
  );
const readOnce = () =>
  child(
    `import { readBundle } from '#core/bundle/unpack.js';
const t = performance.now();
const r = await readBundle(process.argv[1], 2 ** 34);
if (r.refusal) throw r.refusal;
const detail = r.sha256;
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
  const once: number[] = [];
  const openssl: number[] = [];
  let readPeak = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const read = readOnce();
    once.push(read.seconds);
    readPeak = Math.max(readPeak, read.maxRssKiB / 1024);
    openssl.push(tool('openssl', ['dgst', '-sha256', join(dir, 'big.tar.gz')]).seconds);
  }
  const hashRatio = median(openssl) / median(once);
  console.log(
    `one-pass read of a ${(BIG / 1024 ** 2).toFixed(0)} MiB bundle (hash + gunzip + parse): ${median(once).toFixed(2)} s; openssl dgst -sha256 alone: ${median(openssl).toFixed(2)} s`,
  );
  console.log('');
  console.log(
    `ratio: pack ${packRatio.toFixed(2)}x GNU tar's speed (peak RSS ${packPeak.toFixed(1)} MiB), verify+unpack ${unpackRatio.toFixed(2)}x GNU tar xzf's (peak RSS ${verifyPeak.toFixed(1)} MiB), one-pass read ${hashRatio.toFixed(2)}x openssl's throughput (peak RSS ${readPeak.toFixed(1)} MiB); targets: RSS < 100 MiB, read ≥ 0.90x`,
  );
  if (packPeak >= 100 || verifyPeak >= 100 || readPeak >= 100 || hashRatio < 0.9) process.exitCode = 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}
