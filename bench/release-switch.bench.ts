// release-switch: how fast `current` can be switched, and whether a concurrent reader ever finds it missing.
// Three ways, 2,000 switches each on the local target (one /bin/sh per switch, like the action):
//   release-switch  new relative symlink under a temp name + `mv -T` over current (rename(2)), what the action does
//   ln -sfn         the usual one-liner (GNU coreutils 8.30+ replaces via a temp name too; older ones and busybox unlink first)
//   rm + ln -s      what a non-atomic replace does (unlink, then create), as the reference the reader must catch
// A separate process reads <root>/current/marker in a tight loop the whole time and counts failed reads.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { swapCurrent } from '#core/release/switch.js';
import { LocalTarget } from '#core/hosts/local.js';
import { shellQuote } from '#core/hosts/target.js';
import { makeReleases, releaseName, startReader, type ReaderReport } from '../test/support/release-tree.js';

const SWITCHES = Number(process.env.SWITCHES ?? 2000);
const [A, B] = [releaseName(1), releaseName(2)] as [string, string];
const target = new LocalTarget();

async function measure(label: string, switchTo: (root: string, name: string) => Promise<void>) {
  const root = await mkdtemp(join(tmpdir(), 'dg-bench-switch-'));
  try {
    await makeReleases(root, [A, B]);
    await swapCurrent(target, root, A);
    const stop = join(root, 'stop');
    const reader = await startReader(process.execPath, root, stop);
    const started = performance.now();
    for (let i = 0; i < SWITCHES; i++) await switchTo(root, i % 2 === 0 ? B : A);
    const seconds = (performance.now() - started) / 1000;
    await writeFile(stop, '');
    const report: ReaderReport = await reader.done;
    return { label, perSecond: SWITCHES / seconds, ...report };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const sh = async (root: string, script: string) => {
  const result = await target.run(script, { cwd: root });
  if (result.exitCode !== 0) throw new Error(result.stderr);
};

const lnVersion = spawnSync('ln', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
console.log(`${SWITCHES} switches each, local target, concurrent reader of current/marker; ${lnVersion}`);
const rows = [
  await measure('release-switch (mv -T)', (root, name) => swapCurrent(target, root, name)),
  await measure('ln -sfn', (root, name) => sh(root, `ln -sfn ${shellQuote(`releases/${name}`)} current`)),
  await measure('rm -f + ln -s', (root, name) =>
    sh(root, `rm -f current && ln -s ${shellQuote(`releases/${name}`)} current`),
  ),
];
console.log('');
console.log('way                      switches/s   reads      failed reads (current missing/dangling)');
for (const row of rows) {
  console.log(
    `${row.label.padEnd(24)} ${row.perSecond.toFixed(0).padStart(10)}   ${String(row.reads).padStart(9)}  ${String(row.failures).padStart(6)}${row.errors.length ? ` (${row.errors.join(', ')})` : ''}`,
  );
}
const [ours, lnSfn] = rows as [(typeof rows)[0], (typeof rows)[0]];
console.log('');
console.log(
  `ratio: release-switch runs at ${(ours.perSecond / lnSfn.perSecond).toFixed(2)}x the switch rate of ln -sfn; failed reads ${ours.failures} vs ${lnSfn.failures} (ln -sfn) vs ${rows[2]!.failures} (rm + ln -s)`,
);
if (ours.failures > 0) process.exitCode = 1;
