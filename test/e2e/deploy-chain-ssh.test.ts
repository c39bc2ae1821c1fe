import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readlinkSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { node24, repoRoot } from '../support/paths.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';
import { startSshd, type Sshd } from '../support/sshd.js';

// deploy.yml's chain with the bundles, against the loopback sshd as the host: pack → verify-bundle-sha (upload,
// SHA-256 again on the host, unpack) → pre-switch-gates → release-switch → health-retry → ledger; then a broken
// release whose health check fails, the rollback over ssh, the second health check, and a NO-GO ledger.
const GOOD = '20251101_090000-f0959baf';
const BROKEN = '20251102_090000-0badc0de';
const token = 'e2e-health-token';

describe('the deploy chain against an ssh target, with the rollback', () => {
  let sshd: Sshd;
  let work: string;
  let app: ChildProcess | undefined;
  const runs: BundleRun[] = [];
  const step = async (action: string, inputs: Record<string, string>) => {
    const run = await runBundle(action, inputs);
    runs.push(run);
    return run;
  };
  const ssh = () => ({ target: sshd.address, 'ssh-key': sshd.privateKey, 'known-hosts': sshd.knownHosts });
  const root = () => join(work, 'host app');
  const reports = (deploy: string) => join(work, 'reports', deploy);

  async function serveCurrent(): Promise<string> {
    if (app) {
      app.kill('SIGTERM');
      await once(app, 'exit');
    }
    app = spawn(node24, [join(root(), 'current', 'server.mjs'), '0'], {
      env: { ...process.env, HEALTHCHECK_TOKEN: token },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const [chunk] = (await once(app.stdout!, 'data')) as [Buffer];
    return chunk.toString().trim();
  }
  const health = (base: string, report: string) =>
    step('health-retry', {
      urls: `${base}/health`,
      'expect-json': 'status=ok',
      'bearer-token': token,
      attempts: '4',
      interval: '200ms',
      'report-path': report,
    });

  async function deployToSwitch(label: string, source: string, release: string) {
    const pack = await step('pack-bundle', {
      path: source,
      name: `deployment-bundle-${release.slice(-8)}`,
      'output-dir': join(work, 'bundles'),
      mtime: '2025-11-01T09:00:00Z',
    });
    expect(pack.exitCode).toBe(0);
    const verify = await step('verify-bundle-sha', {
      bundle: pack.outputs['bundle-path']!,
      'checksum-file': pack.outputs['checksum-path']!,
      'extract-to': join(root(), 'releases'),
      'release-name': release,
      'report-path': join(reports(label), 'verify-bundle-sha.json'),
      ...ssh(),
    });
    expect({
      exitCode: verify.exitCode,
      release: verify.outputs['release-name'],
      sha256: verify.outputs.sha256,
    }).toEqual({ exitCode: 0, release, sha256: pack.outputs.sha256 });
    const gates = await step('pre-switch-gates', {
      'release-dir': join(root(), 'releases', release),
      preset: 'node',
      'report-path': join(reports(label), 'pre-switch-gates.json'),
      ...ssh(),
    });
    expect(gates.exitCode).toBe(0);
    const switched = await step('release-switch', {
      'releases-root': root(),
      release,
      'report-path': join(reports(label), 'release-switch.json'),
      ...ssh(),
    });
    expect(switched.exitCode).toBe(0);
    return { pack, switched };
  }

  beforeAll(async () => {
    sshd = await startSshd();
    work = await mkdtemp(join(tmpdir(), 'dg-chain-ssh-'));
    await cp(join(repoRoot, 'examples/sample-app'), join(work, 'src/good'), { recursive: true });
    await cp(join(repoRoot, 'examples/sample-app'), join(work, 'src/broken'), { recursive: true });
    const server = await readFile(join(work, 'src/broken/server.mjs'), 'utf8');
    await writeFile(
      join(work, 'src/broken/server.mjs'),
      server.replace("send(200, { status: 'ok'", "send(500, { status: 'error'"),
    );
  }, 60_000);
  afterAll(async () => {
    app?.kill('SIGTERM');
    await sshd?.stop();
    await rm(work, { recursive: true, force: true });
    runs.splice(0).forEach(cleanup);
  });

  it('deploys a good release (GO), then rolls a broken one back to it (NO-GO), with a ledger for each', async () => {
    const first = await deployToSwitch('good', join(work, 'src/good'), GOOD);
    expect(readlinkSync(join(root(), 'current'))).toBe(`releases/${GOOD}`);
    expect((await health(await serveCurrent(), join(reports('good'), 'health-retry.json'))).exitCode).toBe(0);
    const goodLedger = await step('deployment-ledger', {
      'reports-dir': reports('good'),
      environment: 'e2e',
      'ledger-path': join(work, 'good-ledger.json'),
    });
    expect(goodLedger.outputs).toMatchObject({ go: 'true', 'current-release': GOOD, 'rolled-back': 'false' });
    expect(JSON.parse(readFileSync(join(work, 'good-ledger.json'), 'utf8')).bundle.sha256).toBe(
      first.pack.outputs.sha256,
    );

    const second = await deployToSwitch('broken', join(work, 'src/broken'), BROKEN);
    expect(second.switched.outputs['previous-release']).toContain(GOOD);
    const unhealthy = await health(await serveCurrent(), join(reports('broken'), 'health-retry.json'));
    expect(unhealthy.exitCode).toBe(1);
    const rollback = await step('release-switch', {
      'releases-root': root(),
      mode: 'rollback',
      release: GOOD,
      'report-path': join(reports('broken'), 'rollback.json'),
      ...ssh(),
    });
    expect({ exitCode: rollback.exitCode, current: rollback.outputs['current-release'] }).toEqual({
      exitCode: 0,
      current: GOOD,
    });
    expect(readlinkSync(join(root(), 'current'))).toBe(`releases/${GOOD}`);
    expect((await health(await serveCurrent(), join(reports('broken'), 'rollback-health-retry.json'))).exitCode).toBe(
      0,
    );

    const ledger = await step('deployment-ledger', {
      'reports-dir': reports('broken'),
      environment: 'e2e',
      jobs: 'deploy=failure\nrollback=success',
      'ledger-path': join(work, 'broken-ledger.json'),
    });
    expect(ledger.exitCode).toBe(0);
    expect(ledger.outputs).toMatchObject({ go: 'false', 'current-release': GOOD, 'rolled-back': 'true' });
    expect(ledger.summary.split('\n')[0]).toBe(
      `## ❌ NO-GO: health-retry failed, job deploy failure; rolled back to ${GOOD.replace(/_/g, '\\_')}`,
    );
    const document = JSON.parse(readFileSync(join(work, 'broken-ledger.json'), 'utf8'));
    expect(document.releases).toEqual({ previous: GOOD, new: BROKEN, current: GOOD });
    expect(document.stages.map((stage: { name: string; ok: boolean }) => `${stage.name}:${stage.ok}`)).toEqual([
      'verify-bundle-sha:true',
      'pre-switch-gates:true',
      'release-switch:true',
      'health-retry:false',
      'rollback:true',
      'rollback-health-retry:true',
    ]);
  }, 180_000);
});
