#!/usr/bin/env node
// `npm run demo`: the deploy job of the seeds, run on this machine through the deploy-gates CLI with the committed
// bundles. It unpacks the sample app as a new release next to an older one, then:
//   1. pre-switch-gates  the node preset on the new release (nothing points at it yet)
//   2. release-switch    `current` → the new release, atomically; keeps 5 releases
//   3. (the "reload")    starts the app from current/, as a process manager would
//   4. health-retry      the seeds' settings: bearer token, JSON body, Vite manifest, SLO like `hey -n 100 -c 10`
//   5. on failure        release-switch mode=rollback, as the deploy workflow does
// Everything lives in a temp dir that is removed at the end.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const token = 'demo-healthcheck-token';
const work = await mkdtemp(join(tmpdir(), 'deploy-gates-demo-'));
const releasesRoot = join(work, 'app');
const previous = '20251101_090000-1f2e3d4c';
const release = '20251102_154900-f0959baf';

function step(title) {
  console.log(`\n━━ ${title} ${'━'.repeat(Math.max(0, 100 - title.length))}`);
}

async function cli(action, inputs) {
  const args = [join(root, 'dist/cli/index.js'), action];
  for (const [name, value] of Object.entries(inputs)) args.push(`--${name}`, value);
  // Each CLI run makes a fresh RUNNER_TEMP for its reports; under the demo's dir, they go when it does.
  const child = spawn(process.execPath, args, { stdio: 'inherit', env: { ...process.env, RUNNER_TEMP: join(work, 'runner-temp') } });
  const [code] = await once(child, 'close');
  return code ?? 1;
}

let app;
try {
  for (const name of [previous, release]) {
    await cp(join(root, 'examples/sample-app'), join(releasesRoot, 'releases', name), { recursive: true });
  }
  await writeFile(join(releasesRoot, 'releases', previous, 'REVISION'), '1f2e3d4c\n');
  await writeFile(join(releasesRoot, 'releases', release, 'REVISION'), 'f0959baf\n');

  step(`0 · the host as it was: current → releases/${previous}`);
  if ((await cli('release-switch', { 'releases-root': releasesRoot, release: previous })) !== 0) throw new Error('could not set up the demo host');

  step(`1 · pre-switch-gates on releases/${release} (preset node)`);
  const gates = await cli('pre-switch-gates', {
    'release-dir': join(releasesRoot, 'releases', release),
    preset: 'node',
    layer: 'pre-switch',
    gates: '- file: server.mjs\n- file: REVISION\n  min-size: 9',
  });
  if (gates !== 0) throw new Error('pre-switch gates failed: nothing was switched');

  step(`2 · release-switch: current → releases/${release}`);
  if ((await cli('release-switch', { 'releases-root': releasesRoot, release, keep: '5' })) !== 0) throw new Error('release switch failed');

  step('3 · reload: start the app from current/');
  app = spawn(process.execPath, [join(releasesRoot, 'current', 'server.mjs'), '0'], {
    env: { ...process.env, HEALTHCHECK_TOKEN: token },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [chunk] = await once(app.stdout, 'data');
  const base = String(chunk).trim();
  console.log(`Sample app from ${join(releasesRoot, 'current')} listening on ${base}`);

  step('4 · health-retry with the seeds\' settings');
  const healthy = await cli('health-retry', {
    urls: `${base}/health\n${base}/api/health-check`,
    'expect-json': 'status=ok\nversion=1.3.0',
    'bearer-token': token,
    'grace-period': '1s',
    interval: '1s',
    'asset-manifest': `${base}/build/manifest.json`,
    'slo-requests': '100',
    'slo-concurrency': '10',
    'slo-p95': '2s',
    'slo-max-error-rate': '5%',
  });
  if (healthy !== 0) {
    step('5 · unhealthy: release-switch mode=rollback');
    await cli('release-switch', { 'releases-root': releasesRoot, mode: 'rollback' });
    throw new Error('the new release was unhealthy and was rolled back');
  }
  console.log(`\nDeployed releases/${release}: gates passed, switched atomically, healthy.`);
} catch (error) {
  console.error(`\nDemo deploy stopped: ${error.message}`);
  process.exitCode = 1;
} finally {
  app?.kill('SIGTERM');
  await rm(work, { recursive: true, force: true });
}
