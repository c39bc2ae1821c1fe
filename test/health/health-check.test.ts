import { afterEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { parseStatusSpec } from '#core/units/status.js';
import { assertions, checkHealth, healthConfig } from '../support/health.js';
import { json, startServer, type TestServer } from '../support/http-server.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
async function server(...args: Parameters<typeof startServer>) {
  const started = await startServer(...args);
  servers.push(started);
  return started;
}

const config = healthConfig;
const check = checkHealth;

describe('health check against real servers on loopback', () => {
  it('says "up to 1 attempt" for one attempt and "up to 2 attempts" for two', async () => {
    const app = await server((_req, res) => json(res, 200, { status: 'ok' }));
    const one = await check(config([`${app.url}/health`], { attempts: 1 }));
    expect(one.log).toContainEqual(expect.stringContaining('endpoint(s): up to 1 attempt, fixed interval'));
    const two = await check(config([`${app.url}/health`], { attempts: 2 }));
    expect(two.log).toContainEqual(expect.stringContaining('endpoint(s): up to 2 attempts, fixed interval'));
  });

  it('retries a flapping endpoint (503 three times, then 200) and reports every attempt', async () => {
    const app = await server((_req, res, count) =>
      count <= 3 ? json(res, 503, { status: 'starting' }) : json(res, 200, { status: 'ok', version: '1.3.0' }),
    );
    const { outcome, log } = await check(
      config([`${app.url}/health`], {
        expect: { status: parseStatusSpec('200')!, json: assertions('status=ok', 'version=1.3.0') },
      }),
    );
    expect(outcome.healthy).toBe(true);
    expect(outcome.attemptsUsed).toBe(4);
    expect(outcome.endpoints[0]!.attempts.map((a) => [a.status, a.verdict])).toEqual([
      [503, 'fail'],
      [503, 'fail'],
      [503, 'fail'],
      [200, 'pass'],
    ]);
    expect(log).toContainEqual(
      expect.stringMatching(new RegExp(`^Attempt 2/6 ${app.url}/health → HTTP 503 in \\d+ ms: expected 200$`)),
    );
    expect(outcome.results).toEqual([
      expect.objectContaining({ status: 'pass', detail: 'HTTP 200, ok after 4 attempts' }),
    ]);
  });

  it('stops probing an endpoint once it has passed while others are retried', async () => {
    const app = await server((req, res, count) =>
      req.url === '/ready' || count > 2 ? json(res, 200, {}) : json(res, 500, {}),
    );
    const { outcome } = await check(config([`${app.url}/ready`, `${app.url}/slow-start`]));
    expect(outcome.healthy).toBe(true);
    expect(app.requests.filter((r) => r.path === '/ready')).toHaveLength(1);
    expect(app.requests.filter((r) => r.path === '/slow-start')).toHaveLength(3);
  });

  it('cuts a hanging request at the timeout and gives up after the attempts', async () => {
    const app = await server(() => {}); // never answers
    const cfg = config([`${app.url}/health`], { attempts: 2, timeoutMs: 150 });
    const { outcome } = await check(cfg);
    expect(outcome.healthy).toBe(false);
    expect(outcome.attemptsUsed).toBe(2);
    expect(outcome.endpoints[0]!.attempts.map((a) => a.reason)).toEqual(['timeout after 150ms', 'timeout after 150ms']);
    expect(outcome.worstCaseMs).toBe(2 * 150 + 20);
    expect(outcome.results[0]!.detail).toBe('unhealthy after 2 attempts of 2: timeout after 150ms');
  });

  it('accepts a slow answer within the timeout and records its latency', async () => {
    const app = await server((_req, res) => setTimeout(() => json(res, 200, { status: 'ok' }), 250));
    const { outcome } = await check(config([`${app.url}/health`], { timeoutMs: 5_000 }));
    expect(outcome.healthy).toBe(true);
    expect(outcome.endpoints[0]!.attempts[0]!.latencyMs).toBeGreaterThanOrEqual(240);
  });

  it('sends the bearer token to the configured origin but never to a redirect target on another origin', async () => {
    const other = await server((_req, res) => json(res, 200, { status: 'ok' }));
    const app = await server((req, res) => {
      if (req.url === '/health') {
        res.writeHead(302, { location: '/moved' });
        res.end();
      } else if (req.url === '/moved') {
        res.writeHead(307, { location: `${other.url}/elsewhere` });
        res.end();
      }
    });
    const token = 'tok-very-secret-123456';
    const { outcome } = await check(
      config([`${app.url}/health`], { bearerToken: token, headers: { 'x-api-key': 'key-secret-987654' } }),
      [token],
    );
    expect(outcome.healthy).toBe(true);
    expect(app.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${token}`, `Bearer ${token}`]);
    expect(app.requests.map((r) => r.headers['x-api-key'])).toEqual(['key-secret-987654', 'key-secret-987654']);
    expect(other.requests).toHaveLength(1);
    expect(other.requests[0]!.headers.authorization).toBeUndefined();
    expect(other.requests[0]!.headers['x-api-key']).toBeUndefined();
  });

  it('judges a 3xx as it is when redirects are not followed', async () => {
    const app = await server((_req, res) => {
      res.writeHead(301, { location: '/login' });
      res.end();
    });
    const { outcome } = await check(config([`${app.url}/health`], { attempts: 1, followRedirects: false }));
    expect(outcome.endpoints[0]!.attempts[0]).toEqual(expect.objectContaining({ status: 301, reason: 'expected 200' }));
  });

  it('names the field and shows an excerpt when the JSON is wrong', async () => {
    const app = await server((_req, res) => json(res, 200, { status: 'ok', version: '1.2.9' }));
    const { outcome } = await check(
      config([`${app.url}/health`], {
        attempts: 1,
        expect: { status: parseStatusSpec('2xx')!, json: assertions('status=ok', 'version=1.3.0', 'checks.db=up') },
      }),
    );
    expect(outcome.healthy).toBe(false);
    const reason = outcome.endpoints[0]!.attempts[0]!.reason;
    expect(reason).toContain('expected version=1.3.0, got "1.2.9"');
    expect(reason).toContain('checks.db is missing (expected checks.db=up)');
    expect(reason).toContain('{\\"status\\":\\"ok\\",\\"version\\":\\"1.2.9\\"}');
  });

  it('fails a body that is not JSON when JSON is expected, and checks the body regex', async () => {
    const app = await server((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(req.url === '/php' ? 'OK healthcheck.php' : '<html>maintenance</html>');
    });
    const notJson = await check(
      config([`${app.url}/health`], {
        attempts: 1,
        expect: { status: parseStatusSpec('200')!, json: assertions('status=ok') },
      }),
    );
    expect(notJson.outcome.endpoints[0]!.attempts[0]!.reason).toBe('body is not JSON: "<html>maintenance</html>"');
    const regex = await check(
      config([`${app.url}/php`, `${app.url}/other`], {
        attempts: 1,
        expect: { status: parseStatusSpec('200')!, json: [], body: /^OK/ },
      }),
    );
    expect(regex.outcome.endpoints.map((e) => e.healthy)).toEqual([true, false]);
    expect(regex.outcome.endpoints[1]!.attempts[0]!.reason).toBe(
      'body does not match /^OK/: "<html>maintenance</html>"',
    );
  });

  it('needs the configured number of passes in a row', async () => {
    const answers = [200, 500, 200, 200, 200];
    const app = await server((_req, res, count) => json(res, answers[count - 1] ?? 200, {}));
    const { outcome } = await check(config([`${app.url}/health`], { consecutiveSuccesses: 3 }));
    expect(outcome.healthy).toBe(true);
    expect(outcome.attemptsUsed).toBe(5);
  });

  it('reports connection refused and TLS errors in plain words', async () => {
    const closed = await server(() => {});
    const refusedUrl = `${closed.url}/health`;
    await closed.close();
    servers.splice(servers.indexOf(closed), 1);
    const dir = mkdtempSync(join(tmpdir(), 'tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-subj',
          '/CN=127.0.0.1',
          '-days',
          '1',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      const tls = await server((_req, res) => json(res, 200, {}), {
        key: readFileSync(join(dir, 'key.pem'), 'utf8'),
        cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      });
      const { outcome } = await check(config([refusedUrl, `${tls.url}/health`], { attempts: 1 }));
      expect(outcome.endpoints[0]!.attempts[0]!.reason).toBe('connection refused');
      expect(outcome.endpoints[1]!.attempts[0]!.reason).toMatch(/^TLS error: self[- ]signed certificate/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks that every asset of a Vite manifest is served, naming the missing one', async () => {
    const manifest = {
      'resources/js/app.js': { file: 'assets/app-4ed993c7.js', css: ['assets/app-b2f2c1a3.css'], isEntry: true },
      'resources/img/logo.svg': { file: 'assets/logo-11aa22bb.svg' },
    };
    const app = await server((req, res) => {
      if (req.url === '/build/manifest.json') return json(res, 200, manifest);
      if (req.url === '/build/assets/app-4ed993c7.js' || req.url === '/build/assets/app-b2f2c1a3.css') {
        res.writeHead(200);
        return res.end('x');
      }
      res.writeHead(404);
      res.end();
    });
    const { outcome } = await check(
      config([], { attempts: 1, assetManifest: new URL(`${app.url}/build/manifest.json`) }),
    );
    expect(outcome.healthy).toBe(false);
    expect(outcome.endpoints[0]!.attempts[0]!.reason).toBe(
      '1 of 3 assets not served: assets/logo-11aa22bb.svg (HTTP 404)',
    );
    expect(outcome.results[0]!.name).toBe(`${app.url}/build/manifest.json (asset manifest)`);
  });

  it('judges p95 latency and error rate under load once the endpoints are healthy', async () => {
    const app = await server((req, res, count) => {
      if (req.url === '/flaky' && count % 10 === 0) return json(res, 500, {});
      if (req.url === '/slow') return setTimeout(() => json(res, 200, {}), 120);
      json(res, 200, {});
    });
    const fast = await check(
      config([`${app.url}/flaky`], {
        slo: { url: new URL(`${app.url}/flaky`), requests: 100, concurrency: 10, p95Ms: 2_000, maxErrorRate: 0.05 },
      }),
    );
    // 1 health probe + 100 load requests: every 10th of the 101 answers 500, so 10 of the 100 load requests fail
    expect(fast.outcome.slo).toEqual(
      expect.objectContaining({ requests: 100, errors: 10, errorRate: 0.1, pass: false }),
    );
    expect(fast.outcome.healthy).toBe(false);
    const slow = await check(
      config([`${app.url}/slow`], {
        slo: { url: new URL(`${app.url}/slow`), requests: 20, concurrency: 5, p95Ms: 50 },
      }),
    );
    expect(slow.outcome.slo!.p95Ms).toBeGreaterThan(50);
    expect(slow.outcome.slo!.pass).toBe(false);
    expect(slow.outcome.results.at(-1)).toEqual(
      expect.objectContaining({
        status: 'fail',
        detail: expect.stringMatching(/^p95 \d+ ms \(limit 50ms\), errors 0%/),
      }),
    );
  });

  it('skips the SLO probe when the endpoints never became healthy', async () => {
    const app = await server((_req, res) => json(res, 503, {}));
    const { outcome } = await check(
      config([`${app.url}/health`], {
        attempts: 1,
        slo: { url: new URL(`${app.url}/health`), requests: 50, concurrency: 5 },
      }),
    );
    expect(outcome.slo).toBeUndefined();
    expect(outcome.results[1]).toEqual(expect.objectContaining({ status: 'skip' }));
    expect(app.requests).toHaveLength(1);
  });

  it('decodes deflate (zlib and raw), br and stacked codings, and says which coding a body came in', async () => {
    const body = Buffer.from(JSON.stringify({ status: 'ok' }));
    const encoded: Record<string, [string, Buffer]> = {
      '/deflate': ['deflate', deflateSync(body)],
      '/raw-deflate': ['deflate', deflateRawSync(body)],
      '/br': ['br', brotliCompressSync(body)],
      '/stacked': ['gzip, br', brotliCompressSync(gzipSync(body))],
      '/unknown': ['compress', body],
      '/corrupt': ['gzip', Buffer.from('not gzip at all')],
    };
    const app = await server((req, res) => {
      const [coding, bytes] = encoded[req.url!]!;
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': coding });
      res.end(bytes);
    });
    const urls = Object.keys(encoded).map((path) => `${app.url}${path}`);
    const { outcome } = await check(
      config(urls, { attempts: 1, expect: { status: parseStatusSpec('200')!, json: assertions('status=ok') } }),
    );
    expect(app.requests[0]!.headers['accept-encoding']).toMatch(/^gzip, deflate, br(, zstd)?$/);
    expect(outcome.endpoints.map((e) => [e.attempts[0]!.encoding, e.attempts[0]!.reason])).toEqual([
      ['deflate', 'ok'],
      ['deflate', 'ok'],
      ['br', 'ok'],
      ['gzip, br', 'ok'],
      [
        'compress',
        expect.stringMatching(
          /^Content-Encoding compress is not one health-retry can decode \(it accepts gzip, deflate, br/,
        ),
      ],
      ['gzip', expect.stringMatching(/^the gzip body could not be decoded: incorrect header check$/)],
    ]);
  });

  it('hints at https:// when a plain-HTTP request to a TLS port is closed unanswered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-subj',
          '/CN=127.0.0.1',
          '-days',
          '1',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      const tls = await server((_req, res) => json(res, 200, {}), {
        key: readFileSync(join(dir, 'key.pem'), 'utf8'),
        cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      });
      const plainUrl = tls.url.replace('https:', 'http:');
      const { outcome } = await check(config([`${plainUrl}/health`], { attempts: 1 }));
      expect(outcome.endpoints[0]!.attempts[0]!.reason).toBe(
        `connection reset: other side closed (if ${new URL(plainUrl).host} serves HTTPS, use https://)`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('masks a secret that the server echoes back in every reason', async () => {
    const token = 'echoed-secret-token-42';
    const app = await server((req, res) => json(res, 401, { error: `bad token ${req.headers.authorization}` }));
    const { outcome, log } = await check(
      config([`${app.url}/health`], {
        attempts: 1,
        bearerToken: token,
        expect: { status: parseStatusSpec('200')!, json: assertions('status=ok') },
      }),
      [token],
    );
    expect(JSON.stringify(outcome)).not.toContain(token);
    expect(log.join('\n')).not.toContain(token);
  });
});
