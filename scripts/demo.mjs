#!/usr/bin/env node
// `npm run demo`: the deploy chain of deploy.yml, run on this machine through the deploy-gates CLI with the bundled
// actions (dist/), against a local target in a temp dir:
//   pack-bundle → verify-bundle-sha (SHA-256, safe unpack into releases/) → pre-switch-gates → release-switch →
//   serve `current` with a real web server → health-retry → smoke test under egress-sentinel → deployment-ledger;
// then the same with a deliberately broken release: the health check fails, release-switch rolls back, the previous
// release is served and healthy again, and the ledger says NO-GO.
// One line per step with its result and time; each action's full log, report and summary stay in the run's
// directory (printed at the end with `--keep`, removed otherwise). Exit 0 when everything behaved as designed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const token = 'demo-healthcheck-token';
const work = await mkdtemp(join(tmpdir(), 'deploy-gates-demo-'));
const releasesRoot = join(work, 'app');
const logs = join(work, 'logs');
const reportsDir = (deploy) => join(work, 'reports', deploy);
const GOOD_SHA = 'f0959baf5e1d2c3b4a5968778695a4b3c2d1e0f9';
const BROKEN_SHA = '0badc0de5e1d2c3b4a5968778695a4b3c2d1e0f9';
let stepNumber = 0;
let unexpected = 0;

// ── output ─────────────────────────────────────────────────────────────────────────────────────────────────────────
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
function line(ok, name, detail, ms) {
  const mark = ok === true ? '✅' : ok === false ? '❌' : 'ℹ️ ';
  console.log(
    `${String(++stepNumber).padStart(2)} ${mark} ${name.padEnd(20)} ${detail}${ms === undefined ? '' : ` (${seconds(ms)})`}`,
  );
}
/** A step whose result is what the demo expects: ✅ when it passed or failed as designed, else ❌ and the exit code 1. */
function expectStep(name, passed, expected, detail, ms) {
  const asDesigned = passed === expected;
  if (!asDesigned) unexpected++;
  line(
    asDesigned,
    name,
    `${detail}${asDesigned && !expected ? ' — failed as designed' : ''}${asDesigned ? '' : ` — UNEXPECTED (log: ${join(logs, `${stepNumber + 1}-${name}.log`)})`}`,
    ms,
  );
}

// ── the CLI, as a user runs it ─────────────────────────────────────────────────────────────────────────────────────
let runs = 0;
/** Runs one action through the CLI; its log goes to a file, its outputs are returned. */
async function cli(action, inputs, { out, command = [] } = {}) {
  const args = [join(root, 'dist/cli/index.js'), action];
  for (const [name, value] of Object.entries(inputs)) args.push(`--${name}=${value}`);
  args.push('--out', out ?? join(work, 'runner-temp', `${++runs}-${action}`));
  if (command.length > 0) args.push('--', ...command);
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GITHUB_SHA: '', RUNNER_TEMP: join(work, 'runner-temp') },
  });
  let log = '';
  child.stdout.on('data', (chunk) => (log += chunk));
  child.stderr.on('data', (chunk) => (log += chunk));
  const [code] = await once(child, 'close');
  const ms = performance.now() - started;
  await mkdir(logs, { recursive: true });
  await writeFile(join(logs, `${stepNumber + 1}-${action}.log`), log);
  const outputs = {};
  const section = log.split('\nOutputs:\n')[1]?.split('\n\n')[0] ?? '';
  for (const match of section.matchAll(/^ {2}([\w-]+)=(.*)$/gm)) outputs[match[1]] = match[2];
  return { ok: code === 0, outputs, log, ms };
}

// ── the "host": a web server that serves whatever `current` points at, restarted on each switch (the reload) ──────
let app;
async function serve() {
  if (app) {
    app.kill('SIGTERM');
    await once(app, 'exit');
  }
  app = spawn(process.execPath, [join(releasesRoot, 'current', 'server.mjs'), '0'], {
    env: { ...process.env, HEALTHCHECK_TOKEN: token },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [chunk] = await once(app.stdout, 'data');
  return String(chunk).trim();
}

// ── one deploy: the steps of deploy.yml's deploy job ──────────────────────────────────────────────────────────────
// eslint-disable-next-line max-lines-per-function -- TODO(issue 19): split the demo into its steps
async function deploy({ label, source, sha, healthy }) {
  const reports = reportsDir(label);
  const started = new Date().toISOString();
  console.log(`\n── deploy ${label}: ${sha.slice(0, 8)} ${'─'.repeat(80)}`.slice(0, 112));

  const pack = await cli('pack-bundle', {
    path: source,
    name: `deployment-bundle-${sha}`,
    'output-dir': join(work, 'bundles'),
    mtime: '2025-11-02T15:49:00Z',
  });
  expectStep(
    'pack-bundle',
    pack.ok,
    true,
    pack.ok
      ? `${pack.outputs.files} files, sha256 ${pack.outputs.sha256?.slice(0, 16)}…, ${pack.outputs.size} bytes`
      : 'failed',
    pack.ms,
  );
  if (!pack.ok) return;

  const verify = await cli('verify-bundle-sha', {
    bundle: pack.outputs['bundle-path'],
    'checksum-file': pack.outputs['checksum-path'],
    'expected-sha256': pack.outputs.sha256,
    'extract-to': join(releasesRoot, 'releases'),
    'report-path': join(reports, 'verify-bundle-sha.json'),
  });
  const release = verify.outputs['release-name'];
  expectStep(
    'verify-bundle-sha',
    verify.ok,
    true,
    verify.ok ? `SHA-256 matches, unpacked into releases/${release}` : 'failed',
    verify.ms,
  );
  if (!verify.ok) return;

  const gates = await cli('pre-switch-gates', {
    'release-dir': verify.outputs['release-dir'],
    preset: 'node',
    gates: '- file: server.mjs\n- json: package.json\n  expect: name=sample-app',
    'report-path': join(reports, 'pre-switch-gates.json'),
  });
  expectStep(
    'pre-switch-gates',
    gates.ok,
    true,
    `${gates.outputs.passed ?? 0}/${gates.outputs.total ?? '?'} gates passed on the new release`,
    gates.ms,
  );
  if (!gates.ok) return;

  const switched = await cli('release-switch', {
    'releases-root': releasesRoot,
    release,
    keep: '5',
    'report-path': join(reports, 'release-switch.json'),
  });
  const previous = switched.outputs['previous-release'];
  expectStep(
    'release-switch',
    switched.ok,
    true,
    `current → releases/${release}${previous ? ` (was ${previous.split('/').pop()})` : ''}, atomic rename`,
    switched.ms,
  );
  if (!switched.ok) return;

  let reloadStarted = performance.now();
  let base = await serve();
  line(undefined, 'reload', `serving current/ at ${base}`, performance.now() - reloadStarted);

  const healthInputs = (report, attempts) => ({
    urls: `${base}/health\n${base}/api/health-check`,
    'expect-json': 'status=ok',
    'bearer-token': token,
    attempts,
    interval: '300ms',
    'asset-manifest': `${base}/build/manifest.json`,
    'slo-requests': '50',
    'slo-p95': '2s',
    'report-path': join(reports, report),
  });
  const health = await cli('health-retry', healthInputs('health-retry.json', healthy ? '6' : '4'));
  expectStep(
    'health-retry',
    health.ok,
    healthy,
    health.ok
      ? `healthy after ${health.outputs.attempts} attempt(s), p95 ${health.outputs['p95-ms']} ms`
      : firstFailure(health.log),
    health.ms,
  );

  if (health.ok) {
    // The smoke test under egress-sentinel: only the app's own address is allowed (loopback also is by default).
    const smoke = await cli(
      'egress-sentinel',
      { 'allowed-endpoints': new URL(base).host, 'report-path': join(reports, 'egress-sentinel.json') },
      {
        command: [
          process.execPath,
          '-e',
          `fetch(${JSON.stringify(`${base}/healthcheck.php`)}).then((r) => process.exit(r.ok ? 0 : 1))`,
        ],
      },
    );
    const method = /Method \| ([^|]+)\|/.exec(smoke.log)?.[1]?.trim();
    if (smoke.ok)
      line(
        true,
        'smoke (sentinel)',
        `smoke test passed; ${smoke.outputs.violations ?? 0} connection(s) outside the allow-list; ${method ?? 'monitor ran'}`,
        smoke.ms,
      );
    else if (
      /needs root|cannot start|not started|nft|conntrack/i.test(smoke.log) &&
      smoke.outputs.violations === undefined
    ) {
      line(
        undefined,
        'smoke (sentinel)',
        `egress-sentinel cannot watch connections on this machine, smoke test not run under it (see ${join(logs, `${stepNumber + 1}-egress-sentinel.log`)})`,
        smoke.ms,
      );
    } else expectStep('smoke (sentinel)', smoke.ok, true, `failed: ${firstFailure(smoke.log)}`, smoke.ms);
  } else {
    // deploy.yml's rollback job: back to the previous release, then the second health check.
    const rollback = await cli('release-switch', {
      'releases-root': releasesRoot,
      mode: 'rollback',
      release: previous?.split('/').pop() ?? '',
      'report-path': join(reports, 'rollback.json'),
    });
    expectStep(
      'rollback',
      rollback.ok && rollback.outputs['current-release'] !== undefined,
      true,
      `current → ${rollback.outputs['current-release'] ?? '?'}`,
      rollback.ms,
    );
    reloadStarted = performance.now();
    base = await serve();
    line(undefined, 'reload', `serving current/ at ${base}`, performance.now() - reloadStarted);
    const again = await cli('health-retry', healthInputs('rollback-health-retry.json', '6'));
    expectStep(
      'health-retry',
      again.ok,
      true,
      again.ok ? `previous release healthy after ${again.outputs.attempts} attempt(s)` : firstFailure(again.log),
      again.ms,
    );
  }

  const ledgerPath = join(work, `deployment-ledger-${label}.json`);
  const ledger = await cli('deployment-ledger', {
    'reports-dir': reports,
    environment: 'demo',
    sha,
    'started-at': started,
    'ledger-path': ledgerPath,
  });
  const document = ledger.ok ? JSON.parse(await readFile(ledgerPath, 'utf8')) : undefined;
  expectStep(
    'deployment-ledger',
    document?.verdict,
    healthy ? 'GO' : 'NO-GO',
    ledger.outputs.verdict ?? 'no ledger written',
    ledger.ms,
  );
  return document;
}

/** The first error annotation of a CLI log, on one line. */
function firstFailure(log) {
  return /^Error[^:]*: (.*)$/m.exec(log)?.[1]?.slice(0, 140) ?? 'failed';
}

try {
  console.log(`deploy-gates demo: two deploys to a local target in ${work}`);
  const good = join(work, 'src', 'good');
  const broken = join(work, 'src', 'broken');
  await cp(join(root, 'examples/sample-app'), good, { recursive: true });
  await cp(join(root, 'examples/sample-app'), broken, { recursive: true });
  // The broken release: it starts and serves its assets, but its health endpoints answer 500 for good.
  const server = await readFile(join(broken, 'server.mjs'), 'utf8');
  const brokenServer = server.replace(
    "send(200, { status: 'ok', version: '1.3.0', checks: { db: 'up' } })",
    "send(500, { status: 'error', checks: { db: 'down' } })",
  );
  if (brokenServer === server)
    throw new Error('could not break the sample app (examples/sample-app/server.mjs changed?)');
  await writeFile(join(broken, 'server.mjs'), brokenServer);

  const first = await deploy({ label: 'good', source: good, sha: GOOD_SHA, healthy: true });
  // verify-bundle-sha names releases by the second: the second deploy must not get the first one's name.
  await new Promise((done) => setTimeout(done, 1100));
  const second = await deploy({ label: 'broken', source: broken, sha: BROKEN_SHA, healthy: false });

  console.log('\n── ledgers ' + '─'.repeat(100));
  for (const ledger of [first, second])
    if (ledger) console.log(`${ledger.verdict === 'GO' ? '✅ GO' : '❌ NO-GO'}: ${ledger.reason}`);
  const rolledBackToFirst =
    second?.rolledBack === true && first?.releases.new !== null && second?.releases.current === first?.releases.new;
  if (rolledBackToFirst)
    console.log(`current is ${second.releases.current} again, the healthy release of the first deploy.`);
  if (unexpected > 0 || !rolledBackToFirst) {
    console.log(
      `\nSomething did not behave as designed (${unexpected} unexpected step result(s)); the logs are in ${logs}`,
    );
    process.exitCode = 1;
  } else
    console.log(
      '\nEverything behaved as designed: GO for the good release, NO-GO and an automatic rollback for the broken one.',
    );
  if (keep) console.log(`Logs, reports and ledgers kept in ${work}`);
} catch (error) {
  console.error(`\nDemo stopped: ${error.message}`);
  process.exitCode = 1;
} finally {
  app?.kill('SIGTERM');
  if (!keep && process.exitCode !== 1) await rm(work, { recursive: true, force: true });
  else if (!keep) console.log(`(kept ${work} for a look at the logs)`);
}
