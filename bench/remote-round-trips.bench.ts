/**
 * Remote round trips: pre-switch-gates' laravel preset over SSH when every packet crosses a slow link, against the
 * reference the seeds use — one `ssh` call running one shell script with the same 9 structure checks and 2 PHP commands.
 *
 * A TCP proxy on 127.0.0.1 (node:net) sits in front of the test sshd and holds every chunk 25 ms in each direction
 * (50 ms round trip), so the cost of each round trip shows. Both sides connect afresh each run, as a deploy step does:
 *   ours       SshTarget.open (connect, master connection, `true`) + runGates (laravel preset) + close — the action's path
 *   reference  one `ssh host 'cd release && sh -c <script>'` without a master connection
 * Runs are interleaved (ours, reference, ours, …); medians and the wall-time ratio against the 1.2× target are printed.
 *
 * Then release-switch the same way: SshTarget.open (login; its shell session is opened with it) + switchRelease (no
 * hooks, keep 5, nothing to prune, `sha` given as deploy.yml does: after the warm-up, one script — lock, read, check,
 * swap, history, release — as history.accepted vouches for history, sent as a session's command over the login's
 * connection while that session readies) + close,
 * alternating between two releases, against the seeds' one `ssh host 'cd root && ln -sfn releases/<name> current'`
 * (no lock, no checks, no pruning — what the seeds did).
 * Last, the floor: the host script release-switch sent in two real switches, replayed as the command of one plain
 * `ssh` call each (no runner-side code, no session, no second client), interleaved with the same reference.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { presetGates } from '#core/gates/presets.js';
import { runGates } from '#core/gates/run.js';
import { LocalTarget, runProcess } from '#core/hosts/local.js';
import { SshTarget } from '#core/hosts/ssh.js';
import { shellQuote } from '#core/hosts/target.js';
import { switchRelease } from '#core/release/switch.js';
import { makeReleases, releaseName } from '../test/support/release-tree.js';
import { laravelRelease, makeTree, removeTree } from '../test/support/releases.js';
import { startDelayProxy } from '../test/support/delay-proxy.js';
import { startSshd } from '../test/support/sshd.js';
import { laravelSeedScript } from './laravel-seed.js';

const ROUNDS = Number(process.env.ROUNDS ?? 9);
const DELAY_MS = Number(process.env.DELAY_MS ?? 25);
const TARGET_RATIO = 1.2;
const SWITCH_TARGET_RATIO = 1.1;
/** Which parts run: `gates`, `switch` (both by default), e.g. PARTS=switch. */
const PARTS = (process.env.PARTS ?? 'gates,switch').split(',');

const reference = laravelSeedScript;

const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
const spread = (samples: number[]) => `min ${Math.min(...samples).toFixed(0)}, max ${Math.max(...samples).toFixed(0)}`;

const local = new LocalTarget();
const sshd = await startSshd();
const proxy = await startDelayProxy(sshd.port, DELAY_MS);
const keys = await mkdtemp(join(tmpdir(), 'dg-bench-rt-'));
const dir = await makeTree(local, laravelRelease());
try {
  const knownHosts = sshd.knownHosts.replace(`[127.0.0.1]:${sshd.port}`, `[127.0.0.1]:${proxy.port}`);
  await writeFile(join(keys, 'id'), sshd.privateKey, { mode: 0o600 });
  await writeFile(join(keys, 'known_hosts'), `${knownHosts}\n`, { mode: 0o600 });
  const spec = { user: sshd.user, host: '127.0.0.1', port: proxy.port, privateKey: sshd.privateKey, knownHosts };
  const gates = presetGates('laravel');
  const sshArgs = [
    '-F',
    '/dev/null',
    '-T',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    `IdentityFile=${join(keys, 'id')}`,
    '-o',
    `UserKnownHostsFile=${join(keys, 'known_hosts')}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'LogLevel=ERROR',
    '-p',
    String(proxy.port),
    '-l',
    sshd.user,
    '--',
    '127.0.0.1',
    `cd ${shellQuote(dir)} && sh -c ${shellQuote(reference)}`,
  ];

  let trips = 0;
  const phases = { open: [] as number[], gates: [] as number[], close: [] as number[] };
  const ours = async () => {
    const started = performance.now();
    const target = await SshTarget.open(spec);
    const opened = performance.now();
    const outcome = await runGates(target, dir, gates, { timeoutMs: 60_000 });
    const checked = performance.now();
    await target.close();
    const closed = performance.now();
    if (outcome.failed > 0) throw new Error(`gates failed: ${JSON.stringify(outcome.results)}`);
    trips = outcome.roundTrips;
    phases.open.push(opened - started);
    phases.gates.push(checked - opened);
    phases.close.push(closed - checked);
    return closed - started;
  };
  const ref = async () => {
    const started = performance.now();
    const result = await runProcess('ssh', sshArgs, { env: { ...process.env, SSH_AUTH_SOCK: '' }, timeoutMs: 60_000 });
    if (result.exitCode !== 0) throw new Error(`reference failed (exit ${result.exitCode}): ${result.stderr}`);
    return performance.now() - started;
  };

  // What one crossing costs: a TCP connect to the proxy and the SSH banner sshd sends back through it.
  const bannerStarted = performance.now();
  await new Promise<void>((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port: proxy.port }, () => {});
    socket.once('data', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
  console.log(
    `proxy: +${DELAY_MS} ms each way in front of sshd; TCP connect + SSH banner through it: ${(performance.now() - bannerStarted).toFixed(0)} ms`,
  );

  if (PARTS.includes('gates')) {
    await ours(); // warm-up (page cache, PHP, sshd)
    await ref();
    for (const list of Object.values(phases)) list.length = 0;
    const oursSamples: number[] = [];
    const refSamples: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      oursSamples.push(await ours());
      refSamples.push(await ref());
    }
    const [a, b] = [median(oursSamples), median(refSamples)];
    console.log(
      `${'pre-switch-gates laravel preset over ssh'.padEnd(46)} median ${a.toFixed(0)} ms  (${spread(oursSamples)}, ${ROUNDS} runs)`,
    );
    console.log(
      `  of which: open ${median(phases.open).toFixed(0)} ms (login + master connection, ssh -f -N), runGates ${median(phases.gates).toFixed(0)} ms (${trips} round trips), close ${median(phases.close).toFixed(0)} ms`,
    );
    console.log(
      `${'reference: one ssh call, one sh script (seeds)'.padEnd(46)} median ${b.toFixed(0)} ms  (${spread(refSamples)}, ${ROUNDS} runs)`,
    );
    const ratio = a / b;
    console.log(
      `ratio ours/reference: ${ratio.toFixed(2)}x (target ≤ ${TARGET_RATIO}x: ${ratio <= TARGET_RATIO ? 'met' : 'NOT met'}); runGates round trips: ${trips}`,
    );
  }

  // release-switch
  if (PARTS.includes('switch')) {
    // The reference switches its own tree: an `ln -sfn` behind release-switch's back moves `current` away from what
    // history.accepted names, and the next switch would rightly read history first (two round trips).
    const root = join(keys, 'app');
    const refRoot = join(keys, 'app-reference');
    const names = [releaseName(1), releaseName(2)] as const;
    await makeReleases(root, names);
    await makeReleases(refRoot, names);
    let turn = 0;
    let refTurn = 0;
    let switchTrips = 0;
    const tripCounts: number[] = [];
    const switchPhases = { open: [] as number[], switch: [] as number[], close: [] as number[] };
    const switchOurs = async () => {
      const started = performance.now();
      const name = names[turn++ % 2]!;
      const target = await SshTarget.open(spec);
      const opened = performance.now();
      const outcome = await plainSwitch(target, root, name);
      const switched = performance.now();
      await target.close();
      const closed = performance.now();
      if (!outcome.ok || !outcome.switched) throw new Error(`switch failed: ${JSON.stringify(outcome)}`);
      switchTrips = outcome.roundTrips;
      tripCounts.push(outcome.roundTrips);
      switchPhases.open.push(opened - started);
      switchPhases.switch.push(switched - opened);
      switchPhases.close.push(closed - switched);
      return closed - started;
    };
    const lnArgs = (name: string) => [
      ...sshArgs.slice(0, -1),
      `cd ${shellQuote(refRoot)} && ln -sfn ${shellQuote(`releases/${name}`)} current`,
    ];
    const switchRef = async () => {
      const started = performance.now();
      const result = await runProcess('ssh', lnArgs(names[refTurn++ % 2]!), {
        env: { ...process.env, SSH_AUTH_SOCK: '' },
        timeoutMs: 60_000,
      });
      if (result.exitCode !== 0) throw new Error(`reference switch failed (exit ${result.exitCode}): ${result.stderr}`);
      return performance.now() - started;
    };
    await switchOurs();
    await switchRef();
    for (const list of Object.values(switchPhases)) list.length = 0;
    tripCounts.length = 0;
    const switchSamples: number[] = [];
    const lnSamples: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      switchSamples.push(await switchOurs());
      lnSamples.push(await switchRef());
    }
    const [c, d] = [median(switchSamples), median(lnSamples)];
    console.log(
      `${'release-switch over ssh (lock, checks, swap, history, prune)'.padEnd(46)} median ${c.toFixed(0)} ms  (${spread(switchSamples)}, ${ROUNDS} runs; round trips after login: ${[...new Set(tripCounts)].join(', ')})`,
    );
    console.log(
      `  of which: open ${median(switchPhases.open).toFixed(0)} ms (until the login is accepted), switchRelease ${median(switchPhases.switch).toFixed(0)} ms (the session's channel + exec, then ${switchTrips} round trip(s): one script — lock, read, check, swap, history, release — when history.accepted vouches for history), close ${median(switchPhases.close).toFixed(0)} ms`,
    );
    console.log(
      `${'reference: one ssh call, ln -sfn (seeds)'.padEnd(46)} median ${d.toFixed(0)} ms  (${spread(lnSamples)}, ${ROUNDS} runs)`,
    );
    console.log(
      `ratio ours/reference: ${(c / d).toFixed(2)}x (target ≤ ${SWITCH_TARGET_RATIO}x: ${c / d <= SWITCH_TARGET_RATIO ? 'met' : 'NOT met'}); ours − reference: ${(c - d).toFixed(0)} ms`,
    );
    await replayFloor(spec, sshArgs, refRoot, lnArgs);
    console.log(
      `load average (1, 5, 15 min): ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  }
} finally {
  await removeTree(local, dir);
  await proxy.stop();
  await sshd.stop();
  await rm(keys, { recursive: true, force: true });
}

/** A switch as deploy.yml makes it: no hooks, keep 5, the SHA given (so it can be one script, core/release/fast.ts). */
function plainSwitch(target: SshTarget, releasesRoot: string, release: string) {
  return switchRelease(target, {
    releasesRoot,
    release,
    mode: 'switch',
    keep: 5,
    beforeSwitch: [],
    afterSwitch: [],
    rollbackOnFailure: true,
    sha: `${release.slice(-8)}${'0'.repeat(32)}`,
  });
}

/**
 * What the host's side alone costs: two real switches (one way, then back) record the script each sent as the lock
 * holder's command; each round replays one of them as the command of a plain `ssh` call (the same options as the
 * reference), so the switch goes the one-script way with nothing of deploy-gates on the runner.
 */
async function replayFloor(
  spec: Parameters<typeof SshTarget.open>[0],
  sshArgs: readonly string[],
  refRoot: string,
  lnArgs: (name: string) => string[],
): Promise<void> {
  const root = join(refRoot, '..', 'app-replay');
  const names = [releaseName(1), releaseName(2)] as const;
  await makeReleases(root, names);
  const scripts: string[] = [];
  for (let i = 0; i < 4; i++) {
    const target = await SshTarget.open(spec);
    const run = target.run.bind(target);
    // The first two switches write history and its marker; the next two are one-script switches.
    target.run = (script, options) => {
      if (i >= 2 && options?.asCommand) scripts.push(script);
      return run(script, options);
    };
    const name = names[i % 2]!;
    const outcome = await plainSwitch(target, root, name);
    await target.close();
    if (!outcome.ok || (i >= 2 && outcome.roundTrips !== 1)) throw new Error(`switch ${i} for the replay failed`);
  }
  const replay = [] as number[];
  const reference = [] as number[];
  const env = { ...process.env, SSH_AUTH_SOCK: '' };
  for (let i = 0; i < ROUNDS + 1; i++) {
    let started = performance.now();
    const ref = await runProcess('ssh', lnArgs(names[i % 2]!), { env, timeoutMs: 60_000 });
    const refMs = performance.now() - started;
    started = performance.now();
    const ours = await runProcess('ssh', [...sshArgs.slice(0, -1), `sh -c ${shellQuote(scripts[i % 2]!)}`], {
      env,
      stdin: '',
      timeoutMs: 60_000,
    });
    const oursMs = performance.now() - started;
    if (ref.exitCode !== 0 || !ours.stdout.includes('go\0')) throw new Error(`replay ${i} failed: ${ours.stderr}`);
    if (i === 0) continue; // warm-up
    reference.push(refMs);
    replay.push(oursMs);
  }
  const [a, b] = [median(replay), median(reference)];
  console.log(
    `floor: the switch's host script as one plain ssh call's command median ${a.toFixed(0)} ms vs reference ${b.toFixed(0)} ms: ${(a / b).toFixed(2)}x (${ROUNDS} runs)`,
  );
}
