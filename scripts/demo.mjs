#!/usr/bin/env node
// `npm run demo`: starts the sample app on loopback and runs the bundled health-retry through the CLI against it,
// with the seeds' settings (bearer token, JSON body check, Vite manifest, SLO like `hey -n 100 -c 10`).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const token = 'demo-healthcheck-token';
const app = spawn(process.execPath, [join(root, 'examples/sample-app/server.mjs'), '0'], {
  env: { ...process.env, HEALTHCHECK_TOKEN: token },
  stdio: ['ignore', 'pipe', 'inherit'],
});
try {
  const [chunk] = await once(app.stdout, 'data');
  const base = String(chunk).trim();
  console.log(`Sample app listening on ${base}\n`);
  const cli = spawn(
    process.execPath,
    [
      join(root, 'dist/cli/index.js'),
      'health-retry',
      '--urls', `${base}/health`,
      '--urls', `${base}/api/health-check`,
      '--expect-json', 'status=ok\nversion=1.3.0',
      '--bearer-token', token,
      '--grace-period', '1s',
      '--interval', '1s',
      '--asset-manifest', `${base}/build/manifest.json`,
      '--slo-requests', '100',
      '--slo-concurrency', '10',
      '--slo-p95', '2s',
      '--slo-max-error-rate', '5%',
    ],
    { stdio: 'inherit' },
  );
  const [code] = await once(cli, 'close');
  process.exitCode = code ?? 1;
} finally {
  app.kill('SIGTERM');
}
