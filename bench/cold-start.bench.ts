/**
 * Cold start of each bundled action to its first log line, next to bare `node -e 0` on the same Node 24,
 * and next to a bundle holding only @actions/core's index (what every action would pay if it imported it; action-kit's
 * runner.ts uses its protocol modules instead). Also prints bundle sizes (without chunks loaded on first use).
 * Each action is started without inputs, so its first line is the input error: load + parse, no network.
 * Targets (issues 2 and 19): every bundle under 60 ms more than bare Node, and the median over all bundles of the
 * ratio to bare Node at most 2.0×. Each round starts bare Node and then every bundle once (interleaved pairs), so a
 * ratio is taken within a round, where a busy neighbour slows both alike; the bundle's ratio is the median of its
 * rounds'. RUNS (default 40) sets the number of rounds.
 */
import ncc from '@vercel/ncc';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distFile, node24, repoRoot } from '../test/support/paths.js';

const RUNS = Number(process.env.RUNS) || 40;

function timeToFirstLine(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let first: number | undefined;
    const child = spawn(node24, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const mark = () => (first ??= performance.now() - started);
    child.stdout.once('data', mark);
    child.stderr.once('data', mark);
    child.on('error', reject);
    child.on('close', () => resolve(first ?? performance.now() - started));
  });
}

/**
 * Median time to first line of each command, measured in interleaved rounds (every command once per round), so a
 * busy neighbour on a shared machine slows all of them alike instead of skewing whichever ran during the burst.
 */
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;

async function medians(commands: { args: string[]; env: NodeJS.ProcessEnv }[]) {
  const samples = commands.map(() => [] as number[]);
  for (const { args, env } of commands) await timeToFirstLine(args, env); // warm the file cache, not V8: every run is a fresh process
  for (let round = 0; round < RUNS; round++) {
    for (const [i, { args, env }] of commands.entries()) samples[i]!.push(await timeToFirstLine(args, env));
  }
  // The first command is bare node: each other command's ratio to it within the same round.
  const ratios = samples.map((list) => median(list.map((ms, round) => ms / samples[0]![round]!)));
  return { times: samples.map(median), ratios };
}

const temp = mkdtempSync(join(tmpdir(), 'cold-start-'));
try {
  const env = {
    ...process.env,
    GITHUB_OUTPUT: join(temp, 'out'),
    GITHUB_STEP_SUMMARY: join(temp, 'summary'),
    RUNNER_TEMP: temp,
  };
  writeFileSync(env.GITHUB_OUTPUT, '');
  writeFileSync(env.GITHUB_STEP_SUMMARY, '');

  const entry = join(repoRoot, 'bench', '.core-only.mjs'); // inside the repo, so @actions/core resolves
  writeFileSync(entry, "import * as core from '@actions/core';\ncore.info('first line');\n");
  const { code } = await ncc(entry, { minify: true, quiet: true, cache: false, target: 'es2023' }).finally(() =>
    rmSync(entry),
  );
  writeFileSync(join(temp, 'core-only.mjs'), code);
  const actions = readdirSync(join(repoRoot, 'dist'))
    .filter((name) => name !== 'cli')
    .sort();
  const measured = await medians([
    { args: ['-e', 'console.log(1)'], env: process.env },
    { args: [join(temp, 'core-only.mjs')], env: process.env },
    ...actions.map((action) => ({ args: [distFile(action)], env })),
  ]);
  const [bare = 0, coreOnly = 0, ...times] = measured.times;
  const ratios = measured.ratios.slice(2);

  console.log(`Node ${process.versions.node}, median of ${RUNS} interleaved rounds to the first line of output`);
  console.log(`bare node                        ${bare.toFixed(1)} ms`);
  console.log(`@actions/core alone (reference)  ${coreOnly.toFixed(1)} ms  (+${(coreOnly - bare).toFixed(1)} ms)`);
  let over = 0;
  for (const [i, action] of actions.entries()) {
    const ms = times[i]!;
    const size = statSync(distFile(action)).size / 1024;
    const delta = ms - bare;
    if (delta >= 60) over++;
    console.log(
      `${action.padEnd(32)} ${ms.toFixed(1)} ms  (+${delta.toFixed(1)} ms, ${ratios[i]!.toFixed(2)}× bare node, ${size.toFixed(0)} KiB)  ${delta < 60 ? 'within' : 'OVER'} the 60 ms budget`,
    );
  }
  console.log(`${actions.length - over}/${actions.length} bundles start within 60 ms of bare node`);
  const medianRatio = median(ratios);
  console.log(
    `median ratio over all bundles: ${medianRatio.toFixed(2)}× bare node (target ≤ 2.0×: ${medianRatio <= 2 ? 'met' : 'NOT met'})`,
  );
} finally {
  rmSync(temp, { recursive: true, force: true });
}
