import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TestServer } from '../support/http-server.js';
import { makeReleases, releaseName, startServicesHealth } from '../support/release-tree.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';
import { startSshd, type Sshd } from '../support/sshd.js';

// dist/release-services/index.js as the runner runs it: four services on the loopback sshd, the third unhealthy;
// then dist/deployment-ledger/index.js on its report.
const SERVICES = ['provider-plan', 'adapter-wechat', 'gateway', 'worker'];
const OLD = releaseName(1);
const NEW = releaseName(2);

describe('dist/release-services/index.js over ssh', () => {
  let sshd: Sshd;
  let work: string;
  let server: TestServer;
  const runs: BundleRun[] = [];
  const root = (name: string) => join(work, 'hosts', name);
  const log = () => join(work, 'hooks.log');

  beforeAll(async () => {
    sshd = await startSshd();
    work = await mkdtemp(join(tmpdir(), 'dg-services-'));
    server = await startServicesHealth(root, 503);
    await writeFile(log(), '');
    for (const name of SERVICES) {
      await makeReleases(root(name), [OLD, NEW]);
      for (const release of [OLD, NEW])
        await writeFile(
          join(root(name), 'releases', release, 'health'),
          name === 'gateway' && release === NEW ? 'bad' : 'ok',
        );
      await writeFile(join(root(name), '.keep'), '');
      const { symlinkSync } = await import('node:fs');
      symlinkSync(`releases/${OLD}`, join(root(name), 'current'));
    }
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await sshd?.stop();
    await rm(work, { recursive: true, force: true });
    runs.splice(0).forEach(cleanup);
  });

  it('stops at the unhealthy gateway, rolls back the three switched services, leaves worker alone; the ledger says so', async () => {
    const services = SERVICES.map((name) => ({
      name,
      target: sshd.address,
      'releases-root': root(name),
      'health-urls': [`${server.url}/${name}/health`],
      'after-switch': `echo "restart ${name}" >> '${log()}'`,
      'before-rollback': `echo "stop-workers ${name}" >> '${log()}'`,
    }));
    const report = join(work, 'reports', 'release-services.json');
    const run = await runBundle('release-services', {
      services: stringify(services),
      release: NEW,
      'verify-command': `echo verify >> '${log()}'`,
      'health-attempts': '2',
      'health-interval': '50ms',
      'ssh-key': sshd.privateKey,
      'known-hosts': sshd.knownHosts,
      'report-path': report,
    });
    runs.push(run);
    expect(run.exitCode).toBe(1);
    expect(run.outputs).toMatchObject({ 'rolled-back': 'true', 'stopped-at': 'gateway', 'rollback-ok': 'true' });
    expect(SERVICES.map((name) => readlinkSync(join(root(name), 'current')))).toEqual(
      SERVICES.map(() => `releases/${OLD}`),
    );
    expect(readFileSync(log(), 'utf8').trim().split('\n')).toEqual([
      'restart provider-plan',
      'restart adapter-wechat',
      'restart gateway',
      'stop-workers gateway',
      'stop-workers adapter-wechat',
      'stop-workers provider-plan',
      'restart provider-plan',
      'restart adapter-wechat',
      'restart gateway',
      'verify',
    ]);
    expect(run.summary).toContain('## ❌ Release of services: rolled back');
    expect(run.summary).toMatch(/\| 4 \| worker \| ssh:\/\/[^|]+ \| — \| [^|]+ \| — \| ⏭️ not touched \| — \| — \|/);
    expect(run.summary).toMatch(
      /\*\*Rollback done\*\* in .* of the 15m target \(within budget\); order: gateway → adapter-wechat → provider-plan\./,
    );
    expect(run.summary).not.toContain(sshd.privateKey.split('\n')[1]!);
    const document = JSON.parse(readFileSync(report, 'utf8'));
    console.log(
      `release-services bundle: rollback of three services over ssh took ${document.rollback.durationMs} ms (target 15 min)`,
    );

    const ledger = await runBundle('deployment-ledger', {
      'reports-dir': join(work, 'reports'),
      environment: 'e2e',
      'ledger-path': join(work, 'ledger.json'),
    });
    runs.push(ledger);
    expect(ledger.exitCode).toBe(0);
    expect(ledger.outputs).toMatchObject({ go: 'false', 'rolled-back': 'true', 'current-release': OLD });
    const written = JSON.parse(readFileSync(join(work, 'ledger.json'), 'utf8'));
    expect(written.releases).toEqual({ previous: OLD, new: NEW, current: OLD });
    expect(
      written.services.map(
        (s: { name: string; state: string; previousRelease: string | null; rolledBackAt: string | null }) => [
          s.name,
          s.state,
          s.previousRelease,
          s.rolledBackAt !== null,
        ],
      ),
    ).toEqual([
      ['provider-plan', 'rolled-back', OLD, true],
      ['adapter-wechat', 'rolled-back', OLD, true],
      ['gateway', 'rolled-back', OLD, true],
      ['worker', 'untouched', null, false],
    ]);
    expect(written.services[2].health).toMatchObject({ healthy: false });
    expect(written.servicesRollback).toMatchObject({
      ok: true,
      withinBudget: true,
      budgetMs: 900_000,
      order: ['gateway', 'adapter-wechat', 'provider-plan'],
    });
    expect(ledger.summary).toContain('### Services in rollout order');
    expect(ledger.summary).toContain('⏭️ not touched');
  }, 120_000);

  it('refuses a bad services entry naming the service and the field, touching nothing', async () => {
    const run = await runBundle('release-services', {
      services: stringify([{ name: 'gateway', 'releases-root': root('gateway'), 'health-urls': ['ftp://x'] }]),
      release: NEW,
    });
    runs.push(run);
    expect(run.exitCode).toBe(1);
    expect(run.stdout + run.stderr).toContain(
      'Input "services": line 4: service 1 (gateway): health-urls "ftp://x" is not an http(s) URL',
    );
    expect(readlinkSync(join(root('gateway'), 'current'))).toBe(`releases/${OLD}`);
  });
});
