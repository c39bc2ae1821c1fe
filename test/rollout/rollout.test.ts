import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTarget } from '#core/hosts/local.js';
import type { Target } from '#core/hosts/target.js';
import { rollbackOrderOf } from '#core/rollout/order.js';
import { rolloutServices, type RolloutConfig, type RolloutOutcome, type ServiceSpec } from '#core/rollout/run.js';
import { badReleases, parseHistory } from '#core/release/history.js';
import { renderRolloutTable } from '#core/rollout/markdown.js';
import { buildLedger } from '#core/ledger/build.js';
import { renderLedger } from '#core/ledger/markdown.js';
import { rolloutReportFacts } from '#core/rollout/report.js';
import { healthConfig } from '../support/health.js';
import { startServer, type TestServer } from '../support/http-server.js';
import { makeReleases, releaseName, startServicesHealth } from '../support/release-tree.js';
import { reportFile } from '../support/report-documents.js';
import { targetKinds } from '../support/targets.js';

/** release-services' report of an outcome, as the envelope writes it. */
const servicesReport = (outcome: RolloutOutcome) =>
  reportFile('release-services', {
    action: 'release-services',
    stage: 'rollout',
    results: outcome.results,
    failure: outcome.failure ?? undefined,
    report: rolloutReportFacts(outcome),
  });

// The release runbook's four services, in its order. Each service's /health answers from the release its `current`
// points to (the `health` file in it), so a switch or a rollback changes what the check sees, as with a real restart.
const SERVICES = ['provider-plan', 'adapter-wechat', 'gateway', 'worker'];
const OLD = releaseName(1);
const NEW = releaseName(2);

describe.each(targetKinds)('four services rolled out on $name', (kind) => {
  let target: Target;
  let work: string;
  let server: TestServer;
  const log = () => join(work, 'hooks.log');
  const events = () => readFileSync(log(), 'utf8').trim().split('\n');
  const root = (name: string) => join(work, name);
  const current = (name: string) => readlinkSync(join(root(name), 'current'));

  beforeAll(async () => {
    target = await kind.setup();
    work = await mkdtemp(join(tmpdir(), 'dg-rollout-'));
    server = await startServicesHealth(root, 500);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await kind.teardown();
    await rm(work, { recursive: true, force: true });
  });

  /** Every service at OLD with NEW unpacked; `bad` lists `name@release` whose health fails. */
  async function prepare(bad: string[]): Promise<ServiceSpec[]> {
    await writeFile(log(), '');
    const specs: ServiceSpec[] = [];
    for (const name of SERVICES) {
      await rm(root(name), { recursive: true, force: true });
      await makeReleases(root(name), [OLD, NEW]);
      for (const release of [OLD, NEW])
        await writeFile(
          join(root(name), 'releases', release, 'health'),
          bad.includes(`${name}@${release}`) ? 'bad' : 'ok',
        );
      await target.run(`cd '${root(name)}' && ln -s releases/${OLD} current`);
      specs.push({
        name,
        target,
        releasesRoot: root(name),
        release: NEW,
        health: healthConfig([`${server.url}/${name}/health`], { attempts: 2, intervalMs: 20 }),
        beforeSwitch: [],
        afterSwitch: [`echo "restart ${name} $(basename "$(pwd -P)")" >> '${log()}'`],
        beforeRollback: [`echo "stop-workers $DEPLOY_SERVICE" >> '${log()}'`],
      });
    }
    return specs;
  }
  const config = (services: ServiceSpec[], extra: Partial<RolloutConfig> = {}): RolloutConfig => ({
    services,
    keep: 5,
    verify: { command: `echo verify >> '${log()}'`, target: new LocalTarget() },
    ...extra,
  });

  beforeEach(async () => {
    if (work) await writeFile(log(), '');
  });

  it('deploys all four in order and verifies once when every one is healthy', async () => {
    const outcome = await rolloutServices(config(await prepare([])));
    expect(outcome.ok).toBe(true);
    expect(outcome.rollback).toBeNull();
    expect(outcome.services.map((s) => `${s.name}:${s.state}:${s.previousRelease}`)).toEqual(
      SERVICES.map((name) => `${name}:deployed:${OLD}`),
    );
    expect(SERVICES.map(current)).toEqual(SERVICES.map(() => `releases/${NEW}`));
    expect(events()).toEqual([...SERVICES.map((name) => `restart ${name} ${NEW}`), 'verify']);
    const ledger = buildLedger([servicesReport(outcome)], { endedAt: new Date().toISOString(), require: ['rollout'] });
    expect(ledger).toMatchObject({
      verdict: 'GO',
      rolledBack: false,
      releases: { previous: OLD, new: NEW, current: NEW },
      servicesRollback: null,
    });
    expect(ledger.services!.map((s) => s.state)).toEqual(['deployed', 'deployed', 'deployed', 'deployed']);
  }, 60_000);

  it('stops at the unhealthy third, rolls back the switched ones in the given order and never touches the fourth', async () => {
    const rollbackOrder = ['gateway', 'provider-plan', 'adapter-wechat', 'worker'];
    const outcome = await rolloutServices(config(await prepare([`gateway@${NEW}`]), { rollbackOrder }));
    expect(outcome.ok).toBe(false);
    expect(outcome.stoppedAt).toBe('gateway');
    expect(outcome.services.map((s) => `${s.name}:${s.state}`)).toEqual([
      'provider-plan:rolled-back',
      'adapter-wechat:rolled-back',
      'gateway:rolled-back',
      'worker:untouched',
    ]);
    expect(outcome.rollback).toMatchObject({
      order: ['gateway', 'provider-plan', 'adapter-wechat'],
      ok: true,
      withinBudget: true,
    });
    // Every service is back on the release this run recorded; the fourth was never switched.
    expect(SERVICES.map(current)).toEqual(SERVICES.map(() => `releases/${OLD}`));
    // The failed release is marked bad where it was rolled back, so a later rollback never lands on it again.
    const bad = (name: string) => {
      const file = join(root(name), '.deploy-gates', 'history.jsonl');
      return existsSync(file) ? [...badReleases(parseHistory(readFileSync(file, 'utf8'), file))] : [];
    };
    expect(SERVICES.map(bad)).toEqual([[NEW], [NEW], [NEW], []]);
    expect(outcome.services[3]).toMatchObject({ switched: false, previousRelease: OLD, health: null, results: [] });
    // The runbook's order: deploys, then stop the workers (rollback order) before anything goes back, restart in rollout order, verify.
    expect(events()).toEqual([
      `restart provider-plan ${NEW}`,
      `restart adapter-wechat ${NEW}`,
      `restart gateway ${NEW}`,
      'stop-workers gateway',
      'stop-workers provider-plan',
      'stop-workers adapter-wechat',
      `restart provider-plan ${OLD}`,
      `restart adapter-wechat ${OLD}`,
      `restart gateway ${OLD}`,
      'verify',
    ]);
    const [first] = outcome.services;
    expect(first).toMatchObject({
      previousRelease: OLD,
      newRelease: NEW,
      switched: true,
      rolledBack: true,
      health: { healthy: true },
      rollbackHealth: { healthy: true },
    });
    expect(Date.parse(first!.rolledBackAt!)).not.toBeNaN();
    expect(outcome.services[2]!.health).toMatchObject({ healthy: false });
    expect(outcome.failure).toMatch(
      /^gateway failed: health check failed: .*; rolled back gateway, provider-plan, adapter-wechat in /,
    );
    expect(outcome.verify).toMatchObject({ afterRollout: null, afterRollback: { status: 'pass' } });
    const table = renderRolloutTable(outcome);
    expect(
      table
        .split('\n')
        .slice(2, 6)
        .map((row) => row.split(' | ').slice(0, 2).concat(row.split(' | ')[6]!).join(' ')),
    ).toEqual([
      '| 1 provider-plan ↩️ rolled back',
      '| 2 adapter-wechat ↩️ rolled back',
      '| 3 gateway ↩️ rolled back',
      '| 4 worker ⏭️ not touched',
    ]);
    expect(table).toMatch(
      /\*\*Rollback done\*\* in .* of the 15m target \(within budget\); order: gateway → provider-plan → adapter-wechat\./,
    );

    // The ledger keeps it per service, from the report as the action writes it (a JSON round trip).
    const ledger = buildLedger([servicesReport(outcome)], { endedAt: new Date().toISOString(), require: ['rollout'] });
    expect(ledger).toMatchObject({
      verdict: 'NO-GO',
      rolledBack: true,
      releases: { previous: OLD, new: NEW, current: OLD },
    });
    expect(ledger.services!.map((s) => [s.name, s.previousRelease, s.state, s.rolledBackAt !== null])).toEqual([
      ['provider-plan', OLD, 'rolled-back', true],
      ['adapter-wechat', OLD, 'rolled-back', true],
      ['gateway', OLD, 'rolled-back', true],
      ['worker', OLD, 'untouched', false],
    ]);
    expect(ledger.servicesRollback).toMatchObject({
      order: ['gateway', 'provider-plan', 'adapter-wechat'],
      ok: true,
      budgetMs: 900_000,
    });
    expect(ledger.reason).toBe(`release-services failed; rolled back to ${OLD}`);
    const summary = renderLedger(ledger);
    expect(summary).toContain('### Services in rollout order');
    expect(summary.indexOf('provider-plan')).toBeLessThan(summary.indexOf('| 4 | worker'));
  }, 60_000);

  it('takes a service whose own after-switch hook failed back with the others: stopped, switched back, marked bad, restarted, checked', async () => {
    const specs = await prepare([]);
    const gateway = specs[2]!;
    // gateway's restart fails on the new release only (half-way: the first command ran, the second failed).
    gateway.afterSwitch = [
      ...gateway.afterSwitch,
      `test "$(basename "$(pwd -P)")" != ${NEW} || { echo 'queue:restart failed' >&2; exit 3; }`,
    ];
    const outcome = await rolloutServices(config(specs));
    expect(outcome).toMatchObject({ ok: false, stoppedAt: 'gateway' });
    expect(outcome.rollback).toMatchObject({ order: ['gateway', 'adapter-wechat', 'provider-plan'], ok: true });
    expect(outcome.services.map((s) => `${s.name}:${s.state}:${s.switched}`)).toEqual([
      'provider-plan:rolled-back:true',
      'adapter-wechat:rolled-back:true',
      'gateway:rolled-back:true',
      'worker:untouched:false',
    ]);
    expect(outcome.services[2]!.rollbackHealth).toMatchObject({ healthy: true });
    expect(SERVICES.map(current)).toEqual(SERVICES.map(() => `releases/${OLD}`));
    expect(events()).toEqual([
      `restart provider-plan ${NEW}`,
      `restart adapter-wechat ${NEW}`,
      `restart gateway ${NEW}`,
      'stop-workers gateway',
      'stop-workers adapter-wechat',
      'stop-workers provider-plan',
      `restart provider-plan ${OLD}`,
      `restart adapter-wechat ${OLD}`,
      `restart gateway ${OLD}`,
      'verify',
    ]);
    const history = join(root('gateway'), '.deploy-gates', 'history.jsonl');
    expect(parseHistory(readFileSync(history, 'utf8'), history).map((e) => `${e.outcome} ${e.release}`)).toEqual([
      `live ${NEW}`,
      `rolled-back ${NEW}`,
      `bad ${NEW}`,
      `live ${OLD}`,
    ]);
    expect(outcome.failure).toMatch(
      /^gateway failed: after-switch command .* failed \(exit 3: queue:restart failed\); rolled back gateway, adapter-wechat, provider-plan in /,
    );
  }, 60_000);

  it('rolls back all four, stop-workers first in reverse order, when the verification fails after the rollout; reports the time', async () => {
    const outcome = await rolloutServices(
      config(await prepare([]), {
        verify: {
          command: `echo verify >> '${log()}'; test "$(cat '${log()}' | grep -c verify)" -gt 1`,
          target: new LocalTarget(),
        },
      }),
    );
    expect(outcome.rollback).toMatchObject({ order: [...SERVICES].reverse(), ok: true, withinBudget: true });
    expect(outcome.failure).toMatch(/^the verification failed after the rollout/);
    expect(SERVICES.map(current)).toEqual(SERVICES.map(() => `releases/${OLD}`));
    expect(events().filter((line) => line.startsWith('stop-workers'))).toEqual(
      [...SERVICES].reverse().map((name) => `stop-workers ${name}`),
    );
    console.log(`rollback of four services on ${kind.name}: ${outcome.rollback!.durationMs} ms (target 15 min)`);
  }, 60_000);

  it('leaves alone a service whose current someone else moved after its switch: checked under its lock, nothing changed there', async () => {
    const moved = root('adapter-wechat');
    const history = (name: string) => join(root(name), '.deploy-gates', 'history.jsonl');
    const outcomes = (name: string) =>
      parseHistory(readFileSync(history(name), 'utf8'), name).map((e) => `${e.outcome} ${e.release}`);
    // The verification stands in for a hand-made change: adapter-wechat pointed back at OLD, then it fails.
    const verify = `cd '${moved}' && ln -s releases/${OLD} hand && mv -T hand current && exit 1`;
    const outcome = await rolloutServices(
      config(await prepare([]), { verify: { command: verify, target: new LocalTarget() } }),
    );
    expect(outcome.ok).toBe(false);
    const wechat = outcome.services[1]!;
    expect(wechat.rolledBack).toBe(false);
    expect(wechat.failure).toContain(
      `current points to ${OLD}, not ${NEW} that this run switched to: changed by someone else, left alone`,
    );
    expect(current('adapter-wechat')).toBe(`releases/${OLD}`);
    // Nothing was written under its lock: no rollback, no bad mark.
    expect(outcomes('adapter-wechat')).toEqual([`live ${NEW}`]);
    for (const name of ['provider-plan', 'gateway', 'worker']) {
      expect(current(name)).toBe(`releases/${OLD}`);
      expect(outcomes(name)).toEqual([`live ${NEW}`, `rolled-back ${NEW}`, `bad ${NEW}`, `live ${OLD}`]);
    }
  });

  it('switches nothing when the release is missing on a later service: checked on every service first', async () => {
    const specs = await prepare([]);
    await rm(join(root('gateway'), 'releases', NEW), { recursive: true });
    const outcome = await rolloutServices(config(specs));
    expect(outcome).toMatchObject({ ok: false, stoppedAt: 'gateway', rollback: null });
    expect(outcome.failure).toBe('the release is not ready on gateway; no service was switched');
    expect(outcome.results.find((r) => r.name === 'release on gateway')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining(`release ${NEW} is not in ${root('gateway')}/releases on`),
    });
    // No hook ran, no verification, and every current still points to the old release.
    expect(readFileSync(log(), 'utf8')).toBe('');
    expect(SERVICES.map(current)).toEqual(SERVICES.map(() => `releases/${OLD}`));
    expect(outcome.services.map((s) => [s.name, s.state, s.switched])).toEqual(
      SERVICES.map((name) => [name, 'untouched', false]),
    );
    const ledger = buildLedger([servicesReport(outcome)], { endedAt: new Date().toISOString(), require: ['rollout'] });
    expect(ledger).toMatchObject({ verdict: 'NO-GO', rolledBack: false, releases: { new: NEW, current: OLD } });
  }, 60_000);

  it('switches nothing when a later service fails its gates: every service gated before the first switch', async () => {
    const specs = await prepare([]);
    // Each release has what the gates want, but gateway's lacks its built assets: the third service fails.
    for (const name of SERVICES) await writeFile(join(root(name), 'releases', NEW, '.env'), 'APP_ENV=production\n');
    await rm(join(root('gateway'), 'releases', NEW, 'health'));
    const gates = {
      timeoutMs: 10_000,
      gates: [
        { kind: 'file', name: '.env', path: '.env' },
        { kind: 'file', name: 'health file', path: 'health', minSize: 1 },
        { kind: 'command', name: 'release is a directory', command: 'test -d .', expectExit: 0 },
      ] as const,
    };
    const outcome = await rolloutServices(config(specs, { gates }));
    expect(outcome).toMatchObject({ ok: false, stoppedAt: 'gateway', rollback: null });
    expect(outcome.failure).toBe('the release is not ready on gateway; no service was switched');
    expect(outcome.results.filter((r) => r.name.startsWith('gates on')).map((r) => [r.name, r.status])).toEqual(
      SERVICES.map((name) => [`gates on ${name}`, name === 'gateway' ? 'fail' : 'pass']),
    );
    expect(outcome.results.find((r) => r.name === 'gates on gateway')!.detail).toMatch(
      /^2\/3 passed; failed: health file/,
    );
    // No hook ran, no verification, and every current still points to the old release.
    expect(readFileSync(log(), 'utf8')).toBe('');
    expect(SERVICES.map(current)).toEqual(SERVICES.map(() => `releases/${OLD}`));
    expect(outcome.services.map((s) => [s.name, s.state, s.switched])).toEqual(
      SERVICES.map((name) => [name, 'untouched', false]),
    );
    // With the gates passing everywhere, the same rollout goes through.
    await writeFile(join(root('gateway'), 'releases', NEW, 'health'), 'ok');
    expect((await rolloutServices(config(specs, { gates }))).ok).toBe(true);
  }, 60_000);

  it('fails loudly when a rolled-back service is not healthy again', async () => {
    const outcome = await rolloutServices(config(await prepare([`gateway@${NEW}`, `provider-plan@${OLD}`])));
    expect(outcome.ok).toBe(false);
    expect(outcome.rollback).toMatchObject({ ok: false, order: ['gateway', 'adapter-wechat', 'provider-plan'] });
    expect(outcome.services[0]).toMatchObject({
      state: 'rollback-failed',
      rolledBack: true,
      rollbackHealth: { healthy: false },
    });
    expect(outcome.failure).toMatch(/THE ROLLBACK FAILED: provider-plan \(.*health check after the rollback failed/);
    expect(outcome.results.find((r) => r.name === 'restart provider-plan')?.status).toBe('fail');
    expect(renderRolloutTable(outcome)).toContain('**Rollback FAILED**');
  }, 60_000);
});

describe('a cancelled job', () => {
  it('stops before the next service and still rolls back everything it switched, to the end', async () => {
    const work = await mkdtemp(join(tmpdir(), 'dg-rollout-cancel-'));
    const cancel = new AbortController();
    // The job is cancelled while gateway is checked (gateway itself is healthy).
    const server = await startServer((req, res) => {
      if (req.url?.startsWith('/gateway/')) cancel.abort(new Error('cancelled (the run was cancelled)'));
      res.writeHead(200).end('ok');
    });
    try {
      const target = new LocalTarget();
      const services: ServiceSpec[] = [];
      for (const name of SERVICES) {
        await makeReleases(join(work, name), [OLD, NEW]);
        await target.run(`cd '${join(work, name)}' && ln -s releases/${OLD} current`);
        services.push({
          name,
          target,
          releasesRoot: join(work, name),
          release: NEW,
          health: healthConfig([`${server.url}/${name}/health`]),
          beforeSwitch: [],
          afterSwitch: ['true'],
          beforeRollback: ['true'],
        });
      }
      const outcome = await rolloutServices({ services, keep: 5, signal: cancel.signal });
      expect(outcome.stoppedAt).toBe('worker');
      expect(outcome.failure).toMatch(
        /^the job was cancelled before worker; rolled back gateway, adapter-wechat, provider-plan in /,
      );
      expect(outcome.services.map((s) => s.state)).toEqual(['rolled-back', 'rolled-back', 'rolled-back', 'untouched']);
      expect(SERVICES.map((name) => readlinkSync(join(work, name, 'current')))).toEqual(
        SERVICES.map(() => `releases/${OLD}`),
      );
    } finally {
      await server.close();
      await rm(work, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("a job cancelled during a service's after-switch hook", () => {
  it('stops the hook, then takes that service back with the others; nothing is recorded bad', async () => {
    const work = await mkdtemp(join(tmpdir(), 'dg-rollout-cancel-hook-'));
    const cancel = new AbortController();
    const server = await startServer((_req, res) => res.writeHead(200).end('ok'));
    try {
      const target = new LocalTarget();
      const started = join(work, 'hook-started');
      const services: ServiceSpec[] = [];
      for (const name of SERVICES) {
        await makeReleases(join(work, name), [OLD, NEW]);
        await target.run(`cd '${join(work, name)}' && ln -s releases/${OLD} current`);
        const slow =
          name === 'gateway' && `test "$(basename "$(pwd -P)")" != ${NEW} || { touch '${started}'; sleep 30; }`;
        services.push({
          name,
          target,
          releasesRoot: join(work, name),
          release: NEW,
          health: healthConfig([`${server.url}/${name}/health`]),
          beforeSwitch: [],
          afterSwitch: slow ? [slow] : ['true'],
          beforeRollback: ['true'],
        });
      }
      const waiting = (async () => {
        for (let i = 0; i < 400 && !existsSync(started); i++) await new Promise((resolve) => setTimeout(resolve, 25));
        cancel.abort(new Error('cancelled (the run was cancelled)'));
      })();
      const outcome = await rolloutServices({ services, keep: 5, signal: cancel.signal });
      await waiting;
      expect(outcome.stoppedAt).toBe('gateway');
      expect(outcome.rollback).toMatchObject({ order: ['gateway', 'adapter-wechat', 'provider-plan'], ok: true });
      expect(outcome.services.map((s) => s.state)).toEqual(['rolled-back', 'rolled-back', 'rolled-back', 'untouched']);
      expect(SERVICES.map((name) => readlinkSync(join(work, name, 'current')))).toEqual(
        SERVICES.map(() => `releases/${OLD}`),
      );
      for (const name of ['provider-plan', 'adapter-wechat', 'gateway']) {
        const file = join(work, name, '.deploy-gates', 'history.jsonl');
        expect([...badReleases(parseHistory(readFileSync(file, 'utf8'), file))]).toEqual([]);
      }
      expect(outcome.results.find((r) => r.name === 'roll back gateway')?.detail).toBe(
        `${NEW} → ${OLD}, not marked bad: the job was cancelled`,
      );
    } finally {
      await server.close();
      await rm(work, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the rollback order', () => {
  const services = SERVICES.map((name) => ({ name }));
  it('defaults to the reverse of the rollout order and refuses unknown, missing or repeated names', () => {
    expect(rollbackOrderOf(services, undefined)).toEqual(['worker', 'gateway', 'adapter-wechat', 'provider-plan']);
    expect(() => rollbackOrderOf(services, ['worker', 'gateway', 'adapter', 'provider-plan'])).toThrow(
      /not in services: adapter/,
    );
    expect(() => rollbackOrderOf(services, ['worker', 'gateway', 'gateway', 'provider-plan'])).toThrow(
      /missing adapter-wechat; twice gateway/,
    );
  });
});
