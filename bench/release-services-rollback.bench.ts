/**
 * release-services' coordinated rollback over SSH through a slow link, against the same steps as a bash script.
 *
 * Four services on one host (the test sshd behind a proxy holding every chunk 25 ms each way, 50 ms round trip).
 * Each round every service is at the old release with the new one unpacked; the fourth is unhealthy on the new one,
 * so the rollout switches all four, the fourth fails its health check, and all four are rolled back. Timed: the rollback alone
 * (outcome.rollback.durationMs: stop-workers hooks in rollback order, each switch back under the deploy lock, then
 * restart hook + health check in rollout order), with one SshTarget open for the run (as withTargets shares it).
 * Reference: the same steps as a bash script would do them, one `ssh` per step (no master connection, no lock, no
 * checks): stop-workers ×4, `ln -sfn releases/<old> current` ×4, restart ×4, each followed by `curl` of its health.
 * A second reference runs the same steps through one ssh ControlMaster connection opened for the run (`ssh -S`), the
 * fair comparison (our SshTarget logs in once too): the 1.3× target is judged against it. Rounds alternate ours,
 * reference, reference with master; medians, ratios and the load average before and after are printed.
 */
import { loadavg } from 'node:os';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProcess } from '#core/hosts/local.js';
import { SshTarget } from '#core/hosts/ssh.js';
import { shellQuote } from '#core/hosts/target.js';
import { rolloutServices, type ServiceSpec } from '#core/rollout/run.js';
import { startDelayProxy } from '../test/support/delay-proxy.js';
import { healthConfig } from '../test/support/health.js';
import { makeReleases, releaseName, startServicesHealth } from '../test/support/release-tree.js';
import { startSshd } from '../test/support/sshd.js';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const DELAY_MS = Number(process.env.DELAY_MS ?? 25);
const TARGET_RATIO = 1.3;
const SERVICES = ['provider-plan', 'adapter-wechat', 'gateway', 'worker'];
const [OLD, NEW] = [releaseName(1), releaseName(2)];

const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
const spread = (samples: number[]) => `min ${Math.min(...samples).toFixed(0)}, max ${Math.max(...samples).toFixed(0)}`;

const sshd = await startSshd();
const proxy = await startDelayProxy(sshd.port, DELAY_MS);
const work = await mkdtemp(join(tmpdir(), `dg-bench-rollback-${process.pid}-`));
const root = (name: string) => join(work, name);
const health = await startServicesHealth(root, 500);
try {
  const knownHosts = sshd.knownHosts.replace(`[127.0.0.1]:${sshd.port}`, `[127.0.0.1]:${proxy.port}`);
  await writeFile(join(work, 'id'), sshd.privateKey, { mode: 0o600 });
  await writeFile(join(work, 'known_hosts'), `${knownHosts}\n`, { mode: 0o600 });
  const spec = { user: sshd.user, host: '127.0.0.1', port: proxy.port, privateKey: sshd.privateKey, knownHosts };
  const sshArgs = (script: string) =>
    [
      ...['-F', '/dev/null', '-T', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none'],
      ...['-o', `IdentityFile=${join(work, 'id')}`, '-o', `UserKnownHostsFile=${join(work, 'known_hosts')}`],
      ...['-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'LogLevel=ERROR'],
      ...['-p', String(proxy.port), '-l', sshd.user, '--', '127.0.0.1', script],
    ] as string[];

  /** Every service at OLD with NEW unpacked; the last one unhealthy on NEW. */
  const prepare = async () => {
    for (const name of SERVICES) {
      await rm(root(name), { recursive: true, force: true });
      await makeReleases(root(name), [OLD, NEW]);
      for (const release of [OLD, NEW]) {
        const bad = name === SERVICES.at(-1) && release === NEW;
        await writeFile(join(root(name), 'releases', release, 'health'), bad ? 'bad' : 'ok');
      }
      await symlink(`releases/${OLD}`, join(root(name), 'current'));
    }
  };
  const specs = (target: SshTarget): ServiceSpec[] =>
    SERVICES.map((name) => ({
      name,
      target,
      releasesRoot: root(name),
      release: NEW,
      health: healthConfig([`${health.url}/${name}/health`], { attempts: 1, intervalMs: 10 }),
      beforeSwitch: [],
      afterSwitch: ['true # restart'],
      beforeRollback: ['true # stop-workers'],
    }));

  const ours = async () => {
    await prepare();
    const target = await SshTarget.open(spec);
    try {
      const outcome = await rolloutServices({ services: specs(target), keep: 5 });
      if (outcome.rollback?.ok !== true || outcome.rollback.order.length !== 4)
        throw new Error(`the rollback did not go as planned: ${JSON.stringify(outcome.rollback)}`);
      return outcome.rollback.durationMs;
    } finally {
      await target.close();
    }
  };
  // With `master`, each step goes through one ControlMaster connection opened for the run (ssh -S), as ours does.
  let master: string | undefined;
  const step = async (script: string) => {
    const args = master ? ['-S', master, ...sshArgs(script)] : sshArgs(script);
    const result = await runProcess('ssh', args, {
      env: { ...process.env, SSH_AUTH_SOCK: '' },
      timeoutMs: 60_000,
    });
    if (result.exitCode !== 0) throw new Error(`reference step failed (exit ${result.exitCode}): ${result.stderr}`);
  };
  const curl = async (name: string) => {
    const result = await runProcess('curl', ['-fsS', '-o', '/dev/null', `${health.url}/${name}/health`], {
      timeoutMs: 10_000,
    });
    if (result.exitCode !== 0) throw new Error(`reference health of ${name} failed: ${result.stderr}`);
  };
  const reference = async () => {
    await prepare();
    const switched = SERVICES;
    // As the rollout left them: all four switched to the new release (the fourth then failed its health check).
    for (const name of switched) {
      await rm(join(root(name), 'current'));
      await symlink(`releases/${NEW}`, join(root(name), 'current'));
    }
    const started = performance.now();
    const reversed = [...switched].reverse();
    for (const name of reversed) await step(`cd ${shellQuote(root(name))} && true # stop-workers`);
    for (const name of reversed)
      await step(
        `cd ${shellQuote(root(name))} && ln -sfn ${shellQuote(`releases/${OLD}`)} current.tmp && mv -T current.tmp current`,
      );
    for (const name of switched) {
      await step(`cd ${shellQuote(join(root(name), 'current'))} && true # restart`);
      await curl(name);
    }
    return performance.now() - started;
  };

  const referenceMux = async () => {
    master = join(work, 'mux');
    const env = { ...process.env, SSH_AUTH_SOCK: '' };
    const opened = await runProcess('ssh', ['-M', '-S', master, '-f', '-N', ...sshArgs('').slice(0, -1)], { env });
    if (opened.exitCode !== 0) throw new Error(`ssh master failed: ${opened.stderr}`);
    try {
      return await reference();
    } finally {
      await runProcess('ssh', ['-S', master, '-O', 'exit', ...sshArgs('').slice(0, -1)], { env });
      master = undefined;
    }
  };

  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  const loadBefore = load();
  await ours();
  await reference();
  await referenceMux();
  const oursSamples: number[] = [];
  const referenceSamples: number[] = [];
  const muxSamples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    oursSamples.push(await ours());
    referenceSamples.push(await reference());
    muxSamples.push(await referenceMux());
  }
  const [a, b, c] = [median(oursSamples), median(referenceSamples), median(muxSamples)];
  console.log(`round trip through the proxy: ${2 * DELAY_MS} ms`);
  console.log(
    `${'release-services rollback of 4 services'.padEnd(44)} median ${a.toFixed(0)} ms  (${spread(oursSamples)}, ${ROUNDS} runs)`,
  );
  console.log(
    `${'reference: the same steps, bash + ssh + curl'.padEnd(44)} median ${b.toFixed(0)} ms  (${spread(referenceSamples)}, ${ROUNDS} runs)`,
  );
  console.log(
    `${'reference with one ssh master for the run'.padEnd(44)} median ${c.toFixed(0)} ms  (${spread(muxSamples)}, ${ROUNDS} runs)`,
  );
  console.log(`ratio ours/reference (a new login per step): ${(a / b).toFixed(2)}x`);
  console.log(
    `ratio ours/reference with one master: ${(a / c).toFixed(2)}x (target ≤ ${TARGET_RATIO}x: ${a / c <= TARGET_RATIO ? 'met' : 'NOT met'})`,
  );
  console.log(`load average (1, 5, 15 min): before ${loadBefore}, after ${load()}`);
} finally {
  await health.close();
  await proxy.stop();
  await sshd.stop();
  await rm(work, { recursive: true, force: true });
}
