import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { HealthConfig } from '#core/health/config.js';
import { parseStatusSpec } from '#core/units/status.js';
import { assertions, checkHealth, healthConfig } from '../support/health.js';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';
import {
  certificates,
  freePort,
  startCaddy,
  startNginx,
  type Certificates,
  type WebServer,
} from '../support/web-servers.js';

// health-retry against the servers it meets in production: nginx and Caddy, started per test on free
// loopback ports (installed by .ci/run). Compression, redirects to another origin and TLS failures.

const running: WebServer[] = [];
const runs: BundleRun[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.stop()));
  runs.splice(0).forEach(cleanup);
});
let certs: Certificates;
beforeAll(() => {
  certs = certificates();
});
afterAll(() => certs.cleanup());

async function nginx(...args: Parameters<typeof startNginx>) {
  const server = await startNginx(...args);
  running.push(server);
  return server;
}
async function caddy(...args: Parameters<typeof startCaddy>) {
  const server = await startCaddy(...args);
  running.push(server);
  return server;
}
async function bundle(inputs: Record<string, string>, env: Record<string, string> = {}) {
  const result = await runBundle('health-retry', inputs, env);
  runs.push(result);
  return result;
}

const HEALTH = { status: 'ok', version: '1.3.0', padding: 'x'.repeat(600) }; // Caddy compresses from 512 bytes
const statusOk = { status: parseStatusSpec('200')!, json: assertions('status=ok', 'version=1.3.0') };

/** One attempt, 5 s per probe (real servers), expecting the HEALTH document. */
const config = (urls: string[], overrides: Partial<HealthConfig> = {}) =>
  healthConfig(urls, { expect: statusOk, attempts: 1, intervalMs: 10, timeoutMs: 5_000, ...overrides });
const check = checkHealth;

const reasons = (outcome: Awaited<ReturnType<typeof check>>['outcome']) =>
  outcome.endpoints.map((e) => e.attempts[0]!.reason);

describe('compressed answers are decoded before they are judged', () => {
  it('nginx: gzip on (client asks for gzip) and gzip_static always (gzip whatever the client asks)', async () => {
    const port = await freePort();
    const body = JSON.stringify(HEALTH);
    await nginx(
      (dir) => `
  server {
    listen 127.0.0.1:${port};
    root ${dir};
    gzip on; gzip_types application/json; gzip_min_length 1;
    location = /static.json { gzip_static always; }
  }`,
      [port],
      { 'health.json': body, 'static.json.gz': gzipSync(body) },
    );
    const base = `http://127.0.0.1:${port}`;
    // As the issue reported it: Accept-Encoding: gzip configured in `headers`.
    const asked = await check(config([`${base}/health.json`], { headers: { 'accept-encoding': 'gzip' } }));
    expect(reasons(asked.outcome)).toEqual(['ok']);
    expect(asked.outcome.endpoints[0]!.attempts[0]).toEqual(
      expect.objectContaining({ status: 200, verdict: 'pass', encoding: 'gzip' }),
    );
    expect(asked.log).toContainEqual(
      expect.stringMatching(new RegExp(`^Attempt 1/1 ${base}/health.json → HTTP 200 \\(gzip\\) in \\d+ ms: ok$`)),
    );

    const both = await check(config([`${base}/health.json`, `${base}/static.json`]));
    expect(both.outcome.healthy).toBe(true);
    expect(both.outcome.endpoints.map((e) => e.attempts[0]!.encoding)).toEqual(['gzip', 'gzip']);
  });

  it('Caddy: encode zstd gzip, whichever the client asks for', async () => {
    const port = await freePort();
    await caddy(
      (dir) => `http://127.0.0.1:${port} {
	root * ${dir}
	encode zstd gzip
	file_server
}`,
      [port],
      { 'health.json': JSON.stringify(HEALTH) },
    );
    const url = `http://127.0.0.1:${port}/health.json`;
    const gzip = await check(config([url], { headers: { 'accept-encoding': 'gzip' } }));
    expect(gzip.outcome.endpoints[0]!.attempts[0]).toEqual(
      expect.objectContaining({ verdict: 'pass', encoding: 'gzip' }),
    );
    const zstd = await check(config([url], { headers: { 'accept-encoding': 'zstd' } }));
    expect(zstd.outcome.endpoints[0]!.attempts[0]).toEqual(
      expect.objectContaining({ verdict: 'pass', encoding: 'zstd' }),
    );
    const offered = await check(config([url]));
    expect(offered.outcome.endpoints[0]!.attempts[0]).toEqual(
      expect.objectContaining({ verdict: 'pass', encoding: expect.stringMatching(/^(zstd|gzip)$/) }),
    );
  });
});

describe('a redirect to another origin', () => {
  const guarded = (port: number, tls = '') => `
  server {
    listen 127.0.0.1:${port}${tls};
    location = /health {
      default_type application/json;
      if ($http_authorization != "Bearer tok-123456789") { return 401 '{"error":"unauthorized"}'; }
      return 200 '{"status":"ok","version":"1.3.0"}';
    }
  }`;

  it('says the token was not sent there and to use the final URL (nginx, another port)', async () => {
    const [front, back] = [await freePort(), await freePort()];
    await nginx(
      () => `
  server { listen 127.0.0.1:${front}; location / { return 301 http://127.0.0.1:${back}$request_uri; } }
${guarded(back)}`,
      [front, back],
    );
    const { outcome, log } = await check(
      config([`http://127.0.0.1:${front}/health`], { bearerToken: 'tok-123456789' }),
      ['tok-123456789'],
    );
    expect(outcome.healthy).toBe(false);
    const attempt = outcome.endpoints[0]!.attempts[0]!;
    expect(attempt).toEqual(
      expect.objectContaining({ status: 401, finalUrl: `http://127.0.0.1:${back}/health`, redirects: 1 }),
    );
    expect(attempt.reason).toBe(
      `expected 200; redirected to another origin (http://127.0.0.1:${back}, not http://127.0.0.1:${front}; 1 redirect), ` +
        `where the bearer token was not sent: use the final URL http://127.0.0.1:${back}/health in urls`,
    );
    expect(log.join('\n')).toContain('where the bearer token was not sent');
    const direct = await check(config([`http://127.0.0.1:${back}/health`], { bearerToken: 'tok-123456789' }));
    expect(direct.outcome.healthy).toBe(true);
  });

  it('http → https on the same host: the bundle explains the 401 and records the final URL (NODE_EXTRA_CA_CERTS trusts the test CA)', async () => {
    const [plain, tls] = [await freePort(), await freePort()];
    const { key, cert } = certs.signed('redirect', 'IP:127.0.0.1');
    await nginx(
      () => `
  server { listen 127.0.0.1:${plain}; return 301 https://127.0.0.1:${tls}$request_uri; }
${guarded(tls, ` ssl; ssl_certificate ${cert}; ssl_certificate_key ${key}`)}`,
      [plain, tls],
    );
    const env = { NODE_EXTRA_CA_CERTS: certs.ca };
    const result = await bundle(
      {
        urls: `http://127.0.0.1:${plain}/health`,
        'bearer-token': 'tok-123456789',
        'expect-json': 'status=ok',
        attempts: '1',
      },
      env,
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(
      `::error::Unhealthy: 1 of 1 check(s) failed%0Ahttp://127.0.0.1:${plain}/health: unhealthy after 1 attempt of 1: HTTP 401: expected 200; redirected to another origin ` +
        `(https://127.0.0.1:${tls}, not http://127.0.0.1:${plain}; 1 redirect), where the bearer token was not sent: use the final URL https://127.0.0.1:${tls}/health in urls`,
    );
    const report = JSON.parse(readFileSync(result.outputs.report!, 'utf8'));
    expect(report.endpoints[0].attempts[0]).toEqual(
      expect.objectContaining({ status: 401, finalUrl: `https://127.0.0.1:${tls}/health`, redirects: 1 }),
    );
    const fixed = await bundle(
      {
        urls: `https://127.0.0.1:${tls}/health`,
        'bearer-token': 'tok-123456789',
        'expect-json': 'status=ok',
        attempts: '1',
      },
      env,
    );
    expect(fixed.outputs.healthy).toBe('true');
  });
});

describe('TLS failures in one sentence each', () => {
  it('nginx: self-signed, expired, plain HTTP on the TLS port, TLS to the plain port', async () => {
    const [selfPort, expiredPort, plainPort] = [await freePort(), await freePort(), await freePort()];
    const self = certs.selfSigned('self');
    const expired = certs.signed('expired', 'IP:127.0.0.1', -1);
    const tlsServer = (port: number, pair: { key: string; cert: string }) =>
      `  server { listen 127.0.0.1:${port} ssl; ssl_certificate ${pair.cert}; ssl_certificate_key ${pair.key}; location / { return 200 '{"status":"ok"}'; } }`;
    await nginx(
      () => `${tlsServer(selfPort, self)}
${tlsServer(expiredPort, expired)}
  server { listen 127.0.0.1:${plainPort}; location / { return 200 '{"status":"ok"}'; } }`,
      [selfPort, expiredPort, plainPort],
    );
    const { outcome, log } = await check(
      config([
        `https://127.0.0.1:${selfPort}/health`,
        `https://127.0.0.1:${expiredPort}/health`,
        `http://127.0.0.1:${selfPort}/health`,
        `https://127.0.0.1:${plainPort}/health`,
      ]),
    );
    expect(reasons(outcome)).toEqual([
      `TLS error: self-signed certificate at 127.0.0.1:${selfPort}, not trusted: give the server a certificate from a trusted CA, or set NODE_EXTRA_CA_CERTS to a PEM file holding this certificate in the step's env`,
      `TLS error: the certificate of 127.0.0.1:${expiredPort} has expired (or this machine's clock is wrong): renew the certificate`,
      `expected 200: 127.0.0.1:${selfPort} serves TLS on that port and refused plain HTTP; use https://`,
      `TLS error: 127.0.0.1:${plainPort} answered plain HTTP to a TLS handshake: use http:// for that port, or the server's HTTPS port`,
    ]);
    expect(outcome.endpoints[2]!.attempts[0]!.status).toBe(400);
    for (const line of log) expect(line).not.toMatch(/[\r\n]|SSL routines|openssl/);
  });

  it('Caddy: an internal CA is an unknown issuer until NODE_EXTRA_CA_CERTS names its root; plain HTTP on its TLS port', async () => {
    const port = await freePort();
    const server = await caddy(
      (dir) => `https://127.0.0.1:${port} {
	tls internal
	root * ${dir}
	file_server
}`,
      [port],
      { 'health.json': JSON.stringify(HEALTH) },
    );
    const { outcome } = await check(
      config([`https://127.0.0.1:${port}/health.json`, `http://127.0.0.1:${port}/health.json`]),
    );
    expect(reasons(outcome)).toEqual([
      `TLS error: the certificate of 127.0.0.1:${port} is signed by an unknown issuer: for a private CA, set NODE_EXTRA_CA_CERTS to a PEM file holding the CA certificate in the step's env; for a public CA, the server must send its intermediate certificates too`,
      `expected 200: 127.0.0.1:${port} serves TLS on that port and refused plain HTTP; use https://`,
    ]);
    const trusted = await bundle(
      { urls: `https://127.0.0.1:${port}/health.json`, 'expect-json': 'status=ok', attempts: '1' },
      { NODE_EXTRA_CA_CERTS: join(server.dir, 'data/pki/authorities/local/root.crt') },
    );
    expect(trusted.outputs.healthy).toBe('true');
  });

  it('nginx: a certificate for another name is a hostname mismatch naming the names it holds', async () => {
    const port = await freePort();
    const other = certs.signed('other-name', 'DNS:example.test');
    await nginx(
      () =>
        `  server { listen 127.0.0.1:${port} ssl; ssl_certificate ${other.cert}; ssl_certificate_key ${other.key}; return 200 '{"status":"ok"}'; }`,
      [port],
    );
    const result = await bundle(
      { urls: `https://127.0.0.1:${port}/health`, attempts: '1' },
      { NODE_EXTRA_CA_CERTS: certs.ca },
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(
      new RegExp(
        `^Attempt 1/1 https://127\\.0\\.0\\.1:${port}/health → TLS error: hostname mismatch: the certificate of 127\\.0\\.0\\.1:${port} is not valid for 127\\.0\\.0\\.1 \\(it holds DNS:example\\.test\\): use a URL with a name the certificate holds, or reissue the certificate \\(\\d+ ms\\)$`,
        'm',
      ),
    );
  });

  it('a server that refuses the handshake with an alert (here: no application protocol) is one sentence naming the alert, without OpenSSL text', async () => {
    const { key, cert } = certs.signed('alert', 'IP:127.0.0.1');
    // A real TLS server whose ALPN choice refuses every protocol: OpenSSL sends alert 120 before any certificate.
    const server = createTlsServer({ key: readFileSync(key), cert: readFileSync(cert), ALPNCallback: () => undefined });
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const result = await bundle({ urls: `https://127.0.0.1:${port}/health`, attempts: '1' });
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toMatch(
        new RegExp(
          `^Attempt 1/1 https://127\\.0\\.0\\.1:${port}/health → TLS error: 127\\.0\\.0\\.1:${port} refused the TLS handshake with the alert "no application protocol": .* \\(\\d+ ms\\)$`,
          'm',
        ),
      );
      expect(result.stdout).not.toMatch(/SSL routines|openssl|rec_layer/);
    } finally {
      server.close();
    }
  });
});
