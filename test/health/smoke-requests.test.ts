import { afterEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestBody } from '#core/http/body.js';
import { parseJsonAssertion } from '#core/http/expectations.js';
import { parseStatusSpec } from '#core/units/index.js';
import { assertions, checkHealth, healthConfig } from '../support/health.js';
import { json, startServer, type TestServer } from '../support/http-server.js';

const servers: TestServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true }));
});

/** A server that records each request's method, Content-Type and body, and answers with `answer`. */
async function recorder(answer: (req: IncomingMessage, body: string) => [number, unknown, Record<string, string>?]) {
  const seen: { method: string; type?: string; body: string; path: string }[] = [];
  const server = await startServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method!, type: req.headers['content-type'], body, path: req.url! });
      const [status, reply, headers] = answer(req, body);
      if (headers) for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      json(res, status, reply);
    });
  });
  servers.push(server);
  return { server, seen };
}

describe('health-retry as a smoke check', () => {
  it('on a status mismatch shows an excerpt of the body: masked first, bounded, one quoted line', async () => {
    const secret = 'sk-live-0123456789';
    const { server } = await recorder(() => [
      500,
      { error: `database password ${secret} rejected\n::error::injected`, trace: 'x'.repeat(5000) },
    ]);
    const { outcome, log } = await checkHealth(healthConfig([`${server.url}/health`], { attempts: 1 }), [secret]);
    const reason = outcome.endpoints[0]!.attempts[0]!.reason;
    expect(reason).toMatch(/^expected 200: "\{\\"error\\":\\"database password \*\*\* rejected/);
    expect(reason).toMatch(/x…"$/); // cut at 120 characters, and says so
    expect(reason.length).toBeLessThan(200);
    expect(reason).not.toContain(secret);
    expect(log.join('\n')).not.toContain(secret);
    expect(log.some((line) => line.startsWith('::'))).toBe(false);
  });

  it('POSTs an inline JSON body with its Content-Type and judges the answer', async () => {
    const { server, seen } = await recorder((_req, body) => [201, { accepted: JSON.parse(body).ingest === 'smoke' }]);
    const body = await requestBody({ method: 'POST', body: '{"ingest":"smoke"}' }, tmpdir());
    const { outcome } = await checkHealth(
      healthConfig([`${server.url}/v1/stamps/claim`], {
        method: 'POST',
        body,
        attempts: 1,
        expect: { status: parseStatusSpec('201')!, json: assertions('accepted=true') },
      }),
    );
    expect(outcome.healthy).toBe(true);
    expect(seen).toEqual([
      { method: 'POST', type: 'application/json', body: '{"ingest":"smoke"}', path: '/v1/stamps/claim' },
    ]);
  });

  it('PUTs the bytes of a body file, read once, with the Content-Type given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smoke-body-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'claim.txt'), 'one ingest\n');
    const { server, seen } = await recorder(() => [200, { ok: true }]);
    const body = await requestBody(
      { method: 'PUT', bodyFile: 'claim.txt', contentType: 'text/plain; charset=utf-8' },
      dir,
    );
    const { outcome } = await checkHealth(healthConfig([`${server.url}/ingest`], { method: 'PUT', body, attempts: 1 }));
    expect(outcome.healthy).toBe(true);
    expect(seen[0]).toMatchObject({ method: 'PUT', type: 'text/plain; charset=utf-8', body: 'one ingest\n' });
  });

  it('after a 303 asks again with GET and no body; a 307 repeats the POST and its body on the same origin', async () => {
    const { server, seen } = await recorder((req) =>
      req.url === '/see-other'
        ? [303, {}, { location: '/result' }]
        : req.url === '/temporary'
          ? [307, {}, { location: '/claim' }]
          : [200, { ok: true }],
    );
    const body = await requestBody({ method: 'POST', body: '{"n":1}' }, tmpdir());
    const post = (path: string) => healthConfig([`${server.url}${path}`], { method: 'POST', body, attempts: 1 });
    expect((await checkHealth(post('/see-other'))).outcome.healthy).toBe(true);
    expect((await checkHealth(post('/temporary'))).outcome.healthy).toBe(true);
    expect(seen.map(({ method, path, body: sent }) => `${method} ${path} ${sent}`)).toEqual([
      'POST /see-other {"n":1}',
      'GET /result ',
      'POST /temporary {"n":1}',
      'POST /claim {"n":1}',
    ]);
  });

  it('through a 301/302 turns only a POST into a GET; a PUT or DELETE stays what it is, with its body', async () => {
    const { server, seen } = await recorder((req) =>
      req.url === '/moved'
        ? [301, {}, { location: '/moved/' }]
        : req.url === '/found'
          ? [302, {}, { location: '/found/' }]
          : [200, { ok: true }],
    );
    const body = await requestBody({ method: 'PUT', body: '{"n":2}' }, tmpdir());
    const send = (method: 'POST' | 'PUT' | 'DELETE', path: string) =>
      checkHealth(
        healthConfig([`${server.url}${path}`], { method, body: method === 'DELETE' ? undefined : body, attempts: 1 }),
      );
    for (const [method, path] of [
      ['PUT', '/moved'],
      ['DELETE', '/found'],
      ['POST', '/found'],
    ] as const)
      expect((await send(method, path)).outcome.healthy).toBe(true);
    expect(seen.map(({ method, path, body: sent }) => `${method} ${path} ${sent}`)).toEqual([
      'PUT /moved {"n":2}',
      'PUT /moved/ {"n":2}',
      'DELETE /found ',
      'DELETE /found/ ',
      'POST /found {"n":2}',
      'GET /found/ ',
    ]);
  });

  it('never resends a body to another origin: a cross-origin 307 is a failure, and the other origin gets nothing', async () => {
    const other = await recorder(() => [200, { stolen: true }]);
    const { server } = await recorder(() => [307, {}, { location: `${other.server.url}/collect` }]);
    const body = await requestBody({ method: 'POST', body: '{"token":"abc"}' }, tmpdir());
    const { outcome } = await checkHealth(healthConfig([`${server.url}/claim`], { method: 'POST', body, attempts: 1 }));
    expect(outcome.healthy).toBe(false);
    expect(outcome.endpoints[0]!.attempts[0]!.reason).toBe(
      'HTTP 307 redirect to another origin would resend the POST body; not followed',
    );
    expect(other.seen).toEqual([]);
  });

  it('refuses a body it cannot send as it should, naming the argument', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smoke-body-'));
    dirs.push(dir);
    await expect(requestBody({ method: 'GET', body: '{}' }, dir)).rejects.toThrow(
      'is set but method is GET, which sends no body; set method: POST (or PUT)',
    );
    await expect(requestBody({ method: 'POST', body: '{}', bodyFile: 'a.json' }, dir)).rejects.toThrow(
      'is set and so is body-file',
    );
    await expect(requestBody({ method: 'POST', bodyFile: 'missing.json' }, dir)).rejects.toMatchObject({
      argument: 'bodyFile',
      message: expect.stringContaining(`cannot read ${join(dir, 'missing.json')} (ENOENT)`),
    });
    await expect(requestBody({ method: 'POST', body: '{}', contentType: 'json please' }, dir)).rejects.toMatchObject({
      argument: 'contentType',
    });
    writeFileSync(join(dir, 'big.bin'), Buffer.alloc((1 << 20) + 1));
    await expect(requestBody({ method: 'POST', bodyFile: 'big.bin' }, dir)).rejects.toThrow(/larger than 1 MiB/);
    // A device or a FIFO has no size to check first: refused as not a file, without reading or waiting for a writer.
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    for (const file of ['/dev/zero', join(dir, 'pipe')])
      await expect(requestBody({ method: 'POST', bodyFile: file }, dir)).rejects.toThrow(
        `${file} is not a regular file`,
      );
    expect(await requestBody({ method: 'POST' }, dir)).toBeUndefined();
  });
});

describe('expect-json paths with quoted keys', () => {
  const manifest = { 'resources/js/app.js': { file: 'assets/app-4f3c.js' }, checks: { 'db.primary': 'up' } };

  it('reads a key holding dots, slashes or = as a JSON string in double quotes', async () => {
    const { server } = await recorder(() => [200, manifest]);
    const lines = ['"resources/js/app.js".file=assets/app-4f3c.js', 'checks."db.primary"=up', '"a=b"=x'];
    const parsed = lines.map((line) => parseJsonAssertion(line));
    expect(parsed.map((result) => ('value' in result ? result.value.path : result.problem))).toEqual([
      ['resources/js/app.js', 'file'],
      ['checks', 'db.primary'],
      ['a=b'],
    ]);
    const { outcome } = await checkHealth(
      healthConfig([`${server.url}/build/manifest.json`], {
        attempts: 1,
        expect: { status: parseStatusSpec('200')!, json: assertions(lines[0]!, lines[1]!) },
      }),
    );
    expect(outcome.healthy).toBe(true);
    const missing = await checkHealth(
      healthConfig([`${server.url}/build/manifest.json`], {
        attempts: 1,
        expect: { status: parseStatusSpec('200')!, json: assertions('"resources/css/app.css".file=x') },
      }),
    );
    expect(missing.outcome.endpoints[0]!.attempts[0]!.reason).toMatch(
      /^"resources\/css\/app.css".file is missing \(expected "resources\/css\/app.css".file=x\)/,
    );
  });

  it('says how to write a path that is not one', () => {
    for (const line of ['"unclosed.file=x', 'a..b=x', 'a"b=x', 'novalue'])
      expect(parseJsonAssertion(line)).toEqual({
        problem: expect.stringContaining('"resources/js/app.js".file=app.js (a key with a dot in double quotes)'),
      });
  });
});
