import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTarget } from '#core/hosts/local.js';
import { rolloutServices, type ServiceSpec } from '#core/rollout/run.js';
import { rolloutReportFacts } from '#core/rollout/report.js';
import { healthConfig } from '../support/health.js';
import type { TestServer } from '../support/http-server.js';
import { makeReleases, releaseName, startServicesHealth } from '../support/release-tree.js';

// Three services rolled out; each /health answers from the release its `current` points to. The watch window after
// the rollout sees gateway go bad on the new release: every service goes back. Fake clock: a 1-minute window runs
// in milliseconds.
const SERVICES = ['provider-plan', 'gateway', 'worker'];
const OLD = releaseName(1);
const NEW = releaseName(2);

describe('release-services: the watch window after the rollout', () => {
  let work: string;
  let server: TestServer;
  const root = (name: string) => join(work, name);
  const current = (name: string) => readlinkSync(join(root(name), 'current'));
  const log = () => join(work, 'hooks.log');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), `dg-rollout-watch-${process.pid}-`));
    server = await startServicesHealth(root, 503);
  });
  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  async function prepare(): Promise<ServiceSpec[]> {
    await writeFile(log(), '');
    const target = new LocalTarget();
    const specs: ServiceSpec[] = [];
    for (const name of SERVICES) {
      await rm(root(name), { recursive: true, force: true });
      await makeReleases(root(name), [OLD, NEW]);
      for (const release of [OLD, NEW]) await writeFile(join(root(name), 'releases', release, 'health'), 'ok');
      await target.run(`cd '${root(name)}' && ln -s releases/${OLD} current`);
      specs.push({
        name,
        target,
        releasesRoot: root(name),
        release: NEW,
        health: healthConfig([`${server.url}/${name}/health`], { attempts: 2, intervalMs: 10_000 }),
        beforeSwitch: [],
        afterSwitch: [`echo "restart ${name} $(basename "$(pwd -P)")" >> '${log()}'`],
        beforeRollback: [],
      });
    }
    return specs;
  }

  /** A fake clock; at the given sleeps (counted from the first), gateway's new release answers `health`. */
  function clock(changes: Record<number, 'ok' | 'bad'>) {
    let now = Date.parse('2026-12-03T12:00:00Z');
    let sleeps = 0;
    return {
      now: () => now,
      sleep: async (ms: number) => {
        now += ms;
        const change = changes[++sleeps];
        if (change) writeFileSync(join(root('gateway'), 'releases', NEW, 'health'), change);
      },
    };
  }

  const watch = (services: ServiceSpec[]) => ({
    ...healthConfig(
      services.map((s) => `${server.url}/${s.name}/health`),
      { attempts: 2, intervalMs: 10_000 },
    ),
    watch: { windowMs: 60_000, unhealthyForMs: 20_000 },
  });

  it('rolls every service back when one stays unhealthy for unhealthy-for during the window', async () => {
    const services = await prepare();
    const outcome = await rolloutServices({ services, keep: 5, watch: watch(services) }, clock({ 2: 'bad' }));
    expect(outcome.ok).toBe(false);
    expect(outcome.watch!.failure).toMatch(
      new RegExp(`^${server.url}/gateway/health was unhealthy for 20s in a row during the watch window`),
    );
    expect(outcome.failure).toMatch(/^the watch window failed: .*gateway\/health was unhealthy for 20s in a row/);
    expect(outcome.rollback).toMatchObject({ ok: true, order: ['worker', 'gateway', 'provider-plan'] });
    expect(SERVICES.map(current)).toEqual(SERVICES.map(() => `releases/${OLD}`));
    const rows = outcome.results.filter((r) => r.name.startsWith('watch '));
    expect(rows.map((r) => [r.name.replace(server.url, ''), r.status, r.detail.split(' ')[0]])).toEqual([
      ['watch /provider-plan/health', 'pass', '✅✅✅'],
      ['watch /gateway/health', 'fail', '✅❌❌'],
      ['watch /worker/health', 'pass', '✅✅✅'],
    ]);
    expect(rolloutReportFacts(outcome).details).toMatchObject({ watch: { completed: false, results: undefined } });
  });

  it('keeps the release when a service blips for less than unhealthy-for', async () => {
    const services = await prepare();
    const outcome = await rolloutServices({ services, keep: 5, watch: watch(services) }, clock({ 2: 'bad', 3: 'ok' }));
    expect(outcome.watch).toMatchObject({ completed: true, failure: null });
    expect(outcome.ok).toBe(true);
    expect(outcome.watch!.endpoints[1]!.timeline).toBe('✅❌✅✅✅✅');
    expect(SERVICES.map(current)).toEqual(SERVICES.map(() => `releases/${NEW}`));
    expect(readFileSync(log(), 'utf8').trim().split('\n')).toEqual(SERVICES.map((name) => `restart ${name} ${NEW}`));
  });
});
