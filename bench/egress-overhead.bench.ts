/**
 * egress-sentinel's own overhead: a job step `true` alone vs the same step between egress-sentinel's start (its main
 * step) and its stop (its post step, the only one that can stop the monitor), each step a separate process of the
 * built bundle inside the runner network namespace, as the runner starts them. Interleaved A, B, A, B; reports the
 * median of each and of B − A (target: under 250 ms), the ratio, and the load average before and after.
 * `BASELINE=<dir>` (a copy of an older dist/egress-sentinel) adds a third run per round, the same job with those
 * bundles, and reports the median of the per-round ratios new/old. Each round also starts bare Node twice the same
 * way (`node -e 0` for the main and the post step): that floor is in every JS action with a post step, whatever it
 * does. Needs root, ip netns, nft and conntrack (see test/support/netns.ts).
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { createLab, labUnavailable } from '../test/support/netns.js';
import { Job } from '../test/egress/job.js';
import { node24 } from '../test/support/paths.js';

const PAIRS = Number(process.env.PAIRS ?? 15);
const BASELINE = process.env.BASELINE;
const unavailable = labUnavailable();
if (unavailable) {
  console.log(`SKIPPED: ${unavailable}`);
  process.exit(0);
}

const lab = createLab('o');
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const step = () => spawnSync('ip', ['netns', 'exec', lab.runner, 'true']);
const bareNode = () => spawnSync('ip', ['netns', 'exec', lab.runner, node24, '-e', '0']);
const load = () => loadavg()[0]!.toFixed(1);

/** One job: main step, `true`, post step; its total and its two phases. */
async function watchedJob(bundleDir?: string) {
  const job = new Job(lab.runner, { 'allowed-endpoints': '198.18.1.2:5432' });
  if (bundleDir) job.bundleDir = bundleDir;
  try {
    const started = performance.now();
    await job.start();
    const afterStart = performance.now();
    step();
    const beforeStop = performance.now();
    const stopped = await job.post();
    if (stopped.exitCode !== 0) throw new Error(`the post step failed:\n${stopped.log}`);
    const ended = performance.now();
    return { total: ended - started, start: afterStart - started, stop: ended - beforeStop };
  } finally {
    job.cleanup();
  }
}

const loadBefore = load();
try {
  const alone: number[] = [];
  const twoBareNodes: number[] = [];
  const runs = {
    new: [] as Awaited<ReturnType<typeof watchedJob>>[],
    old: [] as Awaited<ReturnType<typeof watchedJob>>[],
  };
  for (let i = 0; i < PAIRS + 1; i++) {
    const started = performance.now();
    step();
    const a = performance.now() - started;
    const b = await watchedJob();
    const c = BASELINE ? await watchedJob(BASELINE) : undefined;
    const floorStarted = performance.now();
    bareNode();
    bareNode();
    const floor = performance.now() - floorStarted;
    if (i === 0) continue; // warm-up round
    alone.push(a);
    twoBareNodes.push(floor);
    runs.new.push(b);
    if (c) runs.old.push(c);
  }
  const of = (list: { total: number; start: number; stop: number }[], key: 'total' | 'start' | 'stop') =>
    median(list.map((run) => run[key]));
  const overhead = of(runs.new, 'total') - median(alone);
  console.log(
    `Node ${process.versions.node}; ${PAIRS} interleaved rounds (after one warm-up), audit mode with conntrack; load average ${loadBefore} before, ${load()} after`,
  );
  console.log(`  \`true\` alone:                     median ${median(alone).toFixed(1)} ms`);
  const line = (label: string, list: typeof runs.new) =>
    console.log(
      `  ${label} median ${of(list, 'total').toFixed(1)} ms (start ${of(list, 'start').toFixed(1)} ms, stop ${of(list, 'stop').toFixed(1)} ms)`,
    );
  line('start + `true` + post step:      ', runs.new);
  console.log(
    `  overhead ${overhead.toFixed(1)} ms (target < 250 ms), ratio ${(of(runs.new, 'total') / median(alone)).toFixed(1)}× \`true\` alone`,
  );
  console.log(
    `  floor: bare Node started twice (main + post, nothing loaded) median ${median(twoBareNodes).toFixed(1)} ms; the rest of the overhead ${(overhead - median(twoBareNodes)).toFixed(1)} ms`,
  );
  if (BASELINE) {
    line(`the same with ${BASELINE}:`, runs.old);
    const ratios = runs.new.map((run, index) => run.total / runs.old[index]!.total);
    console.log(
      `  new/baseline: median ratio ${median(ratios).toFixed(2)}× (overhead ${overhead.toFixed(1)} vs ${(of(runs.old, 'total') - median(alone)).toFixed(1)} ms)`,
    );
  }
} finally {
  lab.destroy();
}
