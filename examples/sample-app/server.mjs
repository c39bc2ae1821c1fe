#!/usr/bin/env node
// A tiny stand-in for a deployed Laravel app, for the demo: the seeds' health endpoints and a Vite build.
// /health and /api/health-check need the bearer token and answer 503 while the app "warms up" (first 2 calls).
// Usage: node server.mjs [port]  (prints its base URL on stdout; port 0 = any free port)
import { createServer } from 'node:http';

const token = process.env.HEALTHCHECK_TOKEN ?? 'demo-healthcheck-token';
const manifest = {
  'resources/js/app.js': { file: 'assets/app-4ed993c7.js', css: ['assets/app-b2f2c1a3.css'], isEntry: true },
};
const assets = new Set(['/build/assets/app-4ed993c7.js', '/build/assets/app-b2f2c1a3.css']);
let calls = 0;

const server = createServer((req, res) => {
  const send = (status, body, type = 'application/json') => {
    res.writeHead(status, { 'content-type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  if (req.url === '/health' || req.url === '/api/health-check') {
    if (req.headers.authorization !== `Bearer ${token}`) return send(401, { status: 'unauthorized' });
    return ++calls <= 2
      ? send(503, { status: 'warming-up' })
      : send(200, { status: 'ok', version: '1.3.0', checks: { db: 'up' } });
  }
  if (req.url === '/healthcheck.php') return send(200, 'OK', 'text/plain');
  if (req.url === '/build/manifest.json') return send(200, manifest);
  if (assets.has(req.url ?? '')) return send(200, '/* asset */', 'text/javascript');
  send(404, { status: 'not found' });
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
