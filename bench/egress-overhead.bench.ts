/**
 * egress-sentinel's own overhead: a job step `true` alone vs the same step between egress-sentinel's start (its main
 * step) and its stop (its post step, the only one that can stop the monitor), each step a separate process of the
 * built bundle inside the runner network namespace, as the runner starts them. Interleaved A, B, A, B; reports the median of each and of B − A (target:
 * under 250 ms) and the ratio. Needs root, ip netns, nft and conntrack (see test/support/netns.ts).
 */
import { spawnSync } from 'node:child_process';
import { createLab, labUnavailable } from '../test/support/netns.js';
import { Job } from '../test/egress/job.js';

const PAIRS = Number(process.env.PAIRS ?? 15);
const unavailable = labUnavailable();
if (unavailable) {
  console.log(`SKIPPED: ${unavailable}`);
  process.exit(0);
}

const lab = createLab('o');
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const step = () => spawnSync('ip', ['netns', 'exec', lab.runner, 'true']);
try {
  const alone: number[] = [];
  const watched: number[] = [];
  const phases = { start: [] as number[], stop: [] as number[] };
  for (let i = 0; i < PAIRS + 1; i++) {
    let started = performance.now();
    step();
    const a = performance.now() - started;
    const job = new Job(lab.runner, { 'allowed-endpoints': '198.18.1.2:5432' });
    try {
      started = performance.now();
      await job.start();
      const afterStart = performance.now();
      step();
      const beforeStop = performance.now();
      const stopped = await job.post();
      if (stopped.exitCode !== 0) throw new Error(`the post step failed:\n${stopped.log}`);
      const b = performance.now() - started;
      if (i === 0) continue; // warm-up pair
      alone.push(a);
      watched.push(b);
      phases.start.push(afterStart - started);
      phases.stop.push(performance.now() - beforeStop);
    } finally {
      job.cleanup();
    }
  }
  const overhead = median(watched) - median(alone);
  console.log(
    `Node ${process.versions.node}; ${PAIRS} interleaved pairs (after one warm-up), audit mode with conntrack`,
  );
  console.log(`  \`true\` alone:                     median ${median(alone).toFixed(1)} ms`);
  console.log(
    `  start + \`true\` + post step:       median ${median(watched).toFixed(1)} ms (start ${median(phases.start).toFixed(1)} ms, stop ${median(phases.stop).toFixed(1)} ms)`,
  );
  console.log(
    `  overhead ${overhead.toFixed(1)} ms (target < 250 ms), ratio ${(median(watched) / median(alone)).toFixed(1)}×`,
  );
} finally {
  lab.destroy();
}
