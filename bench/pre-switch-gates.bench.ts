/**
 * pre-switch-gates: the laravel preset (11 gates: one script for the 9 structure checks, one per PHP command, with per-gate evidence) on a local target,
 * against the reference the seeds use — one hand-written shell script with the same 9 `test` checks and 2 PHP commands.
 * Prints the median of several runs of each and the ratio (ours / reference).
 */
import { presetGates } from '#core/gates/presets.js';
import { runGates } from '#core/gates/run.js';
import { LocalTarget, runProcess } from '#core/hosts/local.js';
import { laravelRelease, makeTree, removeTree } from '../test/support/releases.js';
import { laravelSeedScript } from './laravel-seed.js';

const ROUNDS = 15;
const target = new LocalTarget();
const dir = await makeTree(target, laravelRelease());

const reference = laravelSeedScript;

async function time(label: string, once: () => Promise<void>): Promise<number> {
  await once(); // warm-up (page cache, PHP opcache files)
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now();
    await once();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)]!;
  console.log(
    `${label.padEnd(44)} median ${median.toFixed(1)} ms  (min ${samples[0]!.toFixed(1)}, max ${samples.at(-1)!.toFixed(1)}, ${ROUNDS} runs)`,
  );
  return median;
}

try {
  const gates = presetGates('laravel');
  const ours = await time('runGates laravel preset (11 gates, local)', async () => {
    const outcome = await runGates(target, dir, gates, { timeoutMs: 60_000 });
    if (outcome.failed > 0) throw new Error(`gates failed: ${JSON.stringify(outcome.results)}`);
  });
  const ref = await time('reference: one sh script (seeds)', async () => {
    const result = await runProcess('/bin/sh', ['-c', reference], { cwd: dir });
    if (result.exitCode !== 0) throw new Error(`reference failed: ${result.stderr}`);
  });
  console.log(`ratio ours/reference: ${(ours / ref).toFixed(2)}x (the price of one result, detail and time per gate)`);
} finally {
  await removeTree(target, dir);
}
