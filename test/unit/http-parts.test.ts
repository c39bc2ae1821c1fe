import { describe, expect, it } from '@jest/globals';
import { classifyRequestError } from '#core/http/failure.js';
import { percentile } from '#core/http/load.js';
import { defaultAssetBase, manifestFiles } from '#core/http/manifest.js';
import { displayUrl, waitAfter, worstCaseMs } from '#core/health/config.js';
import { Redactor } from '#core/redact.js';
import { headline, type CheckResult } from '#core/report/result.js';
import { renderSummary } from '#core/report/markdown.js';

describe('request failures in plain words', () => {
  const wrapped = (code: string, message = code) =>
    Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(message), { code }) });
  it.each([
    [wrapped('ECONNREFUSED'), 'connection refused'],
    [wrapped('ENOTFOUND', 'getaddrinfo ENOTFOUND staging.example.invalid'), 'DNS failure: fetch failed'],
    [{ code: 'EAI_AGAIN', message: 'getaddrinfo EAI_AGAIN host' }, 'DNS failure: getaddrinfo EAI_AGAIN host'],
    [
      { code: 'CERT_HAS_EXPIRED', message: 'certificate has expired' },
      "TLS error: the certificate of the server has expired (or this machine's clock is wrong): renew the certificate",
    ],
    [
      {
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
        message: "Hostname/IP does not match certificate's altnames",
        cert: { subjectaltname: 'DNS:example.test' },
      },
      'TLS error: hostname mismatch: the certificate of the server is not valid for the name in the URL (it holds DNS:example.test): use a URL with a name the certificate holds, or reissue the certificate',
    ],
    [
      {
        code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
        message:
          'C0:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../ssl/record/rec_layer_s3.c:1586:\n',
      },
      'TLS error: the server refused the TLS handshake with the alert "handshake failure": the server has no usable certificate or protocol for this request yet (a server still issuing its certificate answers so); check its TLS setup and its log',
    ],
    // A TLS failure without a sentence of its own keeps OpenSSL's text, on one line.
    [
      {
        code: 'ERR_SSL_UNSAFE_LEGACY_RENEGOTIATION_DISABLED',
        message:
          'C0:error:0A000152:SSL routines:final_renegotiate:unsafe legacy renegotiation disabled:../ssl/statem/extensions.c:922:\n',
      },
      'TLS error: C0:error:0A000152:SSL routines:final_renegotiate:unsafe legacy renegotiation disabled:../ssl/statem/extensions.c:922:',
    ],
    [{ code: 'UND_ERR_HEADERS_TIMEOUT', message: 'Headers Timeout Error' }, 'timeout after 10s'],
    [{ code: 'ECONNRESET', message: 'read ECONNRESET' }, 'connection reset: read ECONNRESET'],
    [new Error('something odd'), 'network error: something odd'],
  ])('%#: %s', (error, message) => expect(classifyRequestError(error, false, '10s').message).toBe(message));

  it('calls our own deadline a timeout whatever undici threw', () => {
    expect(classifyRequestError(new Error('This operation was aborted'), true, '150ms')).toEqual({
      kind: 'timeout',
      message: 'timeout after 150ms',
    });
  });
});

describe('retry timing', () => {
  const base = { intervalMs: 1_000, maxIntervalMs: 5_000 };
  it('waits the interval every time with fixed backoff', () => {
    expect([1, 2, 3, 4].map((a) => waitAfter(a, { ...base, backoff: 'fixed' }))).toEqual([1_000, 1_000, 1_000, 1_000]);
    // max-interval bounds exponential waits only: `interval: 2m` with the default `max-interval: 1m` waits 2m.
    expect(waitAfter(1, { intervalMs: 120_000, maxIntervalMs: 60_000, backoff: 'fixed' })).toBe(120_000);
  });
  it('doubles the wait with exponential backoff, up to max-interval', () => {
    expect([1, 2, 3, 4, 5].map((a) => waitAfter(a, { ...base, backoff: 'exponential' }))).toEqual([
      1_000, 2_000, 4_000, 5_000, 5_000,
    ]);
  });
  it('bounds the whole retry phase by grace + attempts × timeout + the waits between attempts', () => {
    const config = { ...base, backoff: 'fixed' as const, attempts: 6, timeoutMs: 10_000, gracePeriodMs: 15_000 };
    expect(worstCaseMs(config as never)).toBe(15_000 + 6 * 10_000 + 5 * 1_000);
  });
});

describe('Vite manifests', () => {
  it('lists every file, css and asset once', () => {
    const manifest = {
      'resources/js/app.js': {
        file: 'assets/app.js',
        css: ['assets/app.css'],
        assets: ['assets/font.woff2'],
        imports: ['_vendor.js'],
      },
      '_vendor.js': { file: 'assets/vendor.js', css: ['assets/app.css'] },
    };
    expect(manifestFiles(manifest)).toEqual([
      'assets/app.js',
      'assets/app.css',
      'assets/font.woff2',
      'assets/vendor.js',
    ]);
    expect(manifestFiles([1, 2])).toBeUndefined();
    expect(manifestFiles('x')).toBeUndefined();
  });
  it('resolves files against the manifest folder, or its parent for .vite/manifest.json', () => {
    expect(defaultAssetBase(new URL('https://a.example/build/manifest.json')).href).toBe('https://a.example/build/');
    expect(defaultAssetBase(new URL('https://a.example/build/.vite/manifest.json')).href).toBe(
      'https://a.example/build/',
    );
  });
});

describe('small pieces', () => {
  it('takes the nearest-rank percentile', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(values, 95), percentile(values, 50), percentile([7], 95)]).toEqual([95, 50, 7]);
  });
  it('never shows the password of a URL', () => {
    expect(displayUrl(new URL('https://deploy:s3cret@a.example/health'))).toBe('https://a.example/health');
  });
  it('redacts longer secrets first and ignores trivially short ones', () => {
    const redactor = new Redactor(['abc-secret', 'abc-secret-longer', 'ab']);
    expect(redactor.redact('x abc-secret-longer y abc-secret ab')).toBe('x *** y *** ab');
  });
  it('renders a headline and a table that stays a table whatever the details hold', () => {
    const results: CheckResult[] = [
      { name: 'a|b', status: 'pass', detail: 'line1\nline2', durationMs: 1.6 },
      { name: 'c', status: 'fail', detail: 'x', durationMs: 3 },
    ];
    expect(headline('Gates', results)).toBe('Gates: FAILED (1/2 passed, 1 failed)');
    expect(headline('Gates', results.slice(0, 1))).toBe('Gates: 1/1 PASSED');
    expect(renderSummary({ title: 'Gates', results })).toContain('| a\\|b | ✅ pass | line1 line2 | 2 ms |');
  });
});
