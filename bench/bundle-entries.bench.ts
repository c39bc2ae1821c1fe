// bundle-entries: does peak memory grow with the number of entries? pack-bundle and verify-bundle-sha's local
// verify + unpack on trees of ENTRY_COUNTS entries (default 30,000 and 300,000 small files in folders of 20), each
// run in a child process (deploy-gates' code bundled into one plain JavaScript file by esbuild, as dist/ is) that
// reports its time and peak RSS (maxRSS), interleaved with GNU tar doing the same work (tar czf / tar xzf), ROUNDS
// rounds per size. Target: peak RSS < 100 MiB at every size, and no growth from the smaller to the larger tree.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { TarWriter } from '#core/bundle/tar-writer.js';

const COUNTS = (process.env.ENTRY_COUNTS ?? '30000,300000').split(',').map(Number);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const dir = await mkdtemp(join(tmpdir(), 'dg-bench-entries-'));

interface Measured {
  seconds: number;
  maxRssKiB: number;
  detail?: string;
}

/** Bundles `code` (TypeScript importing `#core/…`) into one JavaScript file, to run in child processes. */
const program = (name: string, code: string): string => {
  const outfile = join(dir, `${name}.mjs`);
  buildSync({
    stdin: { contents: code, resolveDir: process.cwd(), loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'warning',
  });
  return outfile;
};
const report = `console.log(JSON.stringify({ seconds: (performance.now() - t) / 1000, maxRssKiB: process.resourceUsage().maxRSS, detail }));`;
const packProgram = program(
  'pack',
  `import { packBundle } from '#core/bundle/pack.js';
const t = performance.now();
const r = await packBundle({ dir: process.argv[2], name: process.argv[4], exclude: [], outputDir: process.argv[3], mtime: new Date(0) });
const detail = String(r.files);
${report}`,
);
const verifyProgram = program(
  'verify',
  `import { unpackLocal } from '#core/bundle/unpack-local.js';
const t = performance.now();
await unpackLocal(process.argv[2], process.argv[3], process.argv[4], 2 ** 34);
const detail = '';
${report}`,
);
const child = (file: string, ...args: string[]): Measured => {
  const result = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Measured;
};
const tool = (command: string, args: string[]): Measured => {
  const started = performance.now();
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return { seconds: (performance.now() - started) / 1000, maxRssKiB: 0 };
};

/**
 * `count` entries: folders `d<n>/lib` of 20 files of 30–240 bytes each, made by GNU tar from a stream our tar writer
 * produces (one process creating the files: a write per file from here took minutes for 300,000).
 */
async function makeTree(root: string, count: number): Promise<void> {
  mkdirSync(root);
  const tar = spawn('tar', ['x', '-C', root], { stdio: ['pipe', 'inherit', 'inherit'] });
  const exited = new Promise((resolve) => tar.on('exit', resolve));
  const writer = new TarWriter(tar.stdin);
  let made = 0;
  for (let d = 0; made < count; d++) {
    for (const path of [`d${d}`, `d${d}/lib`])
      await writer.header({ path, type: 'dir', mode: 0o755, size: 0, mtime: 0 });
    made += 2;
    for (let f = 0; f < 20 && made < count; f++, made++)
      await writer.file(
        { path: `d${d}/lib/file-${f}.js`, mode: 0o644, mtime: 0 },
        Buffer.from(`module.exports = ${d * 20 + f};\n`.repeat(1 + ((d + f) % 8))),
      );
  }
  await writer.end();
  if ((await exited) !== 0) throw new Error('tar x failed');
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const peaks: number[] = [];
try {
  for (const count of COUNTS) {
    const tree = join(dir, `tree-${count}`);
    const generated = performance.now();
    await makeTree(tree, count);
    const made = (performance.now() - generated) / 1000;
    const rows: Record<string, Measured[]> = { pack: [], 'tar czf': [], 'verify+unpack': [], 'tar xzf': [] };
    for (let round = 0; round < ROUNDS; round++) {
      const out = join(dir, 'out');
      rows.pack!.push(child(packProgram, tree, out, `b-${round}`));
      rows['tar czf']!.push(tool('tar', ['czf', join(out, `gnu-${round}.tar.gz`), '-C', tree, '.']));
      const releases = join(dir, 'releases');
      rows['verify+unpack']!.push(child(verifyProgram, join(out, 'b-0.tar.gz'), releases, `r-${round}`));
      mkdirSync(join(releases, `gnu-${round}`));
      rows['tar xzf']!.push(tool('tar', ['xzf', join(out, 'b-0.tar.gz'), '-C', join(releases, `gnu-${round}`)]));
      rmSync(releases, { recursive: true, force: true });
    }
    const seconds = (name: string) => median(rows[name]!.map((v) => v.seconds));
    const peak = (name: string) => Math.max(...rows[name]!.map((v) => v.maxRssKiB)) / 1024;
    peaks.push(peak('pack'), peak('verify+unpack'));
    console.log(
      `${rows.pack![0]!.detail} entries (tree made in ${made.toFixed(1)} s), ${ROUNDS} interleaved rounds, median; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log(
      `  pack ${seconds('pack').toFixed(2)} s vs tar czf ${seconds('tar czf').toFixed(2)} s (${(seconds('tar czf') / seconds('pack')).toFixed(2)}x tar's speed), peak RSS ${peak('pack').toFixed(1)} MiB`,
    );
    console.log(
      `  verify+unpack ${seconds('verify+unpack').toFixed(2)} s vs tar xzf ${seconds('tar xzf').toFixed(2)} s (${(seconds('tar xzf') / seconds('verify+unpack')).toFixed(2)}x tar's speed), peak RSS ${peak('verify+unpack').toFixed(1)} MiB`,
    );
    rmSync(tree, { recursive: true, force: true });
    rmSync(join(dir, 'out'), { recursive: true, force: true });
  }
  console.log(`\nhighest peak RSS ${Math.max(...peaks).toFixed(1)} MiB (target < 100 MiB at every size)`);
  if (Math.max(...peaks) >= 100) process.exitCode = 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}
