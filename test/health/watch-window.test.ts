import { afterEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { HealthConfig } from '#core/health/config.js';
import { runHealthCheck } from '#core/health/run.js';
import { timeline } from '#core/health/timeline.js';
import { MemoryLogger } from '#core/logger.js';
import { Redactor } from '#core/redact.js';
import { healthConfig } from '../support/health.js';
import { json, startServer, type TestServer } from '../support/http-server.js';
import { cleanup, runBundle } from '../support/run-bundle.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/**
 * A service whose n-th answer to /health (the first pass is answer 1, then one per tick) is scripted: the numbers
 * in `down` answer 503. Real HTTP on loopback; the clock is fake, so a 100 s window runs in milliseconds.
 */
async function flapping(down: readonly number[]) {
  const app = await startServer((_req, res, count) =>
    down.includes(count) ? json(res, 503, { status: 'degraded' }) : json(res, 200, { status: 'ok' }),
  );
  servers.push(app);
  return app;
}

function fakeClock(onSleep?: (slept: number) => void) {
  let clock = Date.parse('2026-12-03T12:00:00Z');
  let sleeps = 0;
  return {
    now: () => clock,
    sleep: async (ms: number) => {
      clock += ms;
      onSleep?.(++sleeps);
    },
  };
}

/** interval 10 s × attempts 3: unhealthy-for defaults to 30 s; a 100 s window is 10 ticks. */
function watched(app: TestServer, watch: Partial<NonNullable<HealthConfig['watch']>> = {}): HealthConfig {
  return healthConfig([`${app.url}/health`], {
    attempts: 3,
    intervalMs: 10_000,
    watch: { windowMs: 100_000, unhealthyForMs: 30_000, ...watch },
  });
}

async function watch(config: HealthConfig, clock = fakeClock()) {
  const logger = new MemoryLogger();
  const outcome = await runHealthCheck(config, { logger, redactor: new Redactor(), ...clock });
  return { outcome, log: logger.lines.map((line) => line.message) };
}

describe('watch window after the first healthy pass (real HTTP, fake clock)', () => {
  it('passes a service with one brief blip (20 s down, unhealthy-for 30 s) and shows it in the timeline', async () => {
    const app = await flapping([4, 5]);
    const { outcome } = await watch(watched(app));
    expect(outcome.healthy).toBe(true);
    expect(app.requests).toHaveLength(11); // the first pass and 10 ticks: the whole window was watched
    const window = outcome.watch!;
    expect(window).toMatchObject({ completed: true, cancelled: false, failure: null, elapsedMs: 100_000 });
    expect(window.endpoints[0]).toMatchObject({
      probes: 10,
      failures: 2,
      longestUnhealthyMs: 20_000,
      timeline: '✅✅❌❌✅✅✅✅✅✅',
      firstFailure: { atMs: 30_000, status: 503 },
      lastFailure: { atMs: 40_000, status: 503 },
    });
    const row = outcome.results.find((r) => r.name === `watch ${app.url}/health`)!;
    expect(row.status).toBe('pass');
    expect(row.detail).toMatch(
      /^✅✅❌❌✅✅✅✅✅✅ 8\/10 healthy over 1m40s \(longest 20s without a healthy answer\)/,
    );
  });

  it('fails a service unhealthy for unhealthy-for in a row, and stops watching at once', async () => {
    const app = await flapping([4, 5, 6, 7, 8]);
    const { outcome, log } = await watch(watched(app));
    expect(outcome.healthy).toBe(false);
    expect(app.requests).toHaveLength(6); // no probe after the failure: the rollback can start
    expect(outcome.watch!.failure).toBe(
      `${app.url}/health was unhealthy for 30s in a row during the watch window (unhealthy-for 30s): HTTP 503: expected 200: "{\\"status\\":\\"degraded\\"}"`,
    );
    expect(outcome.watch!.completed).toBe(false);
    expect(outcome.watch!.endpoints[0]!.timeline).toBe('✅✅❌❌❌');
    expect(outcome.results.find((r) => r.name.startsWith('watch '))!.status).toBe('fail');
    expect(log).toContainEqual(expect.stringMatching(/^Watch \+50s .* → HTTP 503: .* \(unhealthy for 30s\)$/));
  });

  it('passes a service that flaps every other probe (never down for long) unless the window SLO says otherwise', async () => {
    const app = await flapping([3, 5, 7, 9, 11]);
    const relaxed = await watch(watched(app));
    expect(relaxed.outcome.healthy).toBe(true);
    expect(relaxed.outcome.watch!.endpoints[0]!.timeline).toBe('✅❌✅❌✅❌✅❌✅❌');

    const strict = await flapping([3, 5, 7, 9, 11]);
    const judged = await watch(watched(strict, { maxErrorRate: 0.2 }));
    expect(judged.outcome.healthy).toBe(false);
    expect(judged.outcome.watch!.failure).toMatch(
      /^the watch window's p95 \d+ ms, errors 50% of 10 probes \(limit 20%\): over the SLO$/,
    );
    expect(judged.outcome.results.find((r) => r.name === 'watch window SLO')!.status).toBe('fail');
  });

  it('takes unhealthy-for as given (15 s: two failed probes 10 s apart are not enough, a third is)', async () => {
    const app = await flapping([4, 5]);
    expect((await watch(watched(app, { unhealthyForMs: 15_000 }))).outcome.healthy).toBe(false);
    const blip = await flapping([4]);
    expect((await watch(watched(blip, { unhealthyForMs: 15_000 }))).outcome.healthy).toBe(true);
  });

  it('ends the window when the job is cancelled: reported, not completed, not healthy', async () => {
    const app = await flapping([]);
    const controller = new AbortController();
    const clock = fakeClock((sleeps) => sleeps === 3 && controller.abort(new Error('cancelled (SIGINT)')));
    const { outcome } = await watch(watched(app, { signal: controller.signal }), clock);
    expect(outcome.healthy).toBe(false);
    expect(app.requests).toHaveLength(3); // the first pass and two ticks; the third wait was cut short
    expect(outcome.watch).toMatchObject({
      completed: false,
      cancelled: true,
      failure: 'the job was cancelled 30s into the 1m40s watch window',
    });
    expect(outcome.results.at(-1)).toMatchObject({ name: 'watch window', status: 'fail' });
  });

  it('does not watch when the first pass is unhealthy', async () => {
    const app = await flapping([1, 2, 3]);
    const { outcome } = await watch(watched(app));
    expect(outcome.healthy).toBe(false);
    expect(outcome.watch).toBeUndefined();
    expect(outcome.results.at(-1)).toMatchObject({ name: 'watch window', status: 'skip' });
  });
});

describe('timeline', () => {
  it('is one symbol per probe up to 40, then buckets with 🟨 for a bucket that holds both', () => {
    expect(timeline([true, false, true])).toBe('✅❌✅');
    const long = Array.from({ length: 120 }, (_, i) => !(i >= 30 && i < 36)); // 6 failed probes of 120
    expect(timeline(long)).toBe('✅'.repeat(10) + '❌❌' + '✅'.repeat(28));
    expect(timeline(Array.from({ length: 120 }, (_, i) => i !== 61))).toBe('✅'.repeat(20) + '🟨' + '✅'.repeat(19));
    expect(timeline([])).toBe('');
  });
});

describe('dist/health-retry: a job cancelled during the watch window', () => {
  it('ends the window at once (not after the next interval), reports it and exits 130', async () => {
    const app = await flapping([]);
    let signalled = 0;
    const run = await runBundle(
      'health-retry',
      { urls: `${app.url}/health`, interval: '20s', watch: '10m' },
      {},
      async (child) => {
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
        for (let i = 0; i < 200 && !out.includes('Watching 1 endpoint(s)'); i++)
          await new Promise((resolve) => setTimeout(resolve, 50));
        signalled = performance.now();
        child.kill('SIGINT');
      },
    );
    try {
      const tookMs = performance.now() - signalled;
      expect(run.exitCode).toBe(130);
      expect(tookMs).toBeLessThan(15_000); // the 20 s wait was cut, not sat out (a generous bound: CPU is shared)
      expect(run.outputs.healthy).toBe('false');
      const report = JSON.parse(readFileSync(run.outputs.report!, 'utf8'));
      expect(report.details.watch).toMatchObject({ cancelled: true, completed: false });
      expect(report.details.watch.failure).toMatch(/^the job was cancelled \S+ into the 10m watch window$/);
      expect(run.summary).toContain('| watch window | ❌ fail | the job was cancelled');
    } finally {
      cleanup(run);
    }
  });
});
