import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real nginx and Caddy on loopback for the health-retry tests: each runs in the foreground from a config in
 * a temp dir, on free loopback ports, and is stopped (and its dir removed) by stop(). Both are installed by
 * .ci/run; a missing binary fails the test saying so.
 */
export interface WebServer {
  dir: string;
  /** Stderr and error log so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function requireBinary(name: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status !== 0)
    throw new Error(`${name} is not installed; these tests need it (apt-get install ${name}, as .ci/run does)`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

async function startProcess(
  name: string,
  dir: string,
  command: string,
  args: string[],
  ports: number[],
  env: Record<string, string> = {},
  extraLog?: string,
): Promise<WebServer> {
  let output = '';
  const child: ChildProcess = spawn(command, args, {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));
  const log = () =>
    output +
    (extraLog
      ? (() => {
          try {
            return readFileSync(extraLog, 'utf8');
          } catch {
            return '';
          }
        })()
      : '');
  const stop = async () => {
    if (running) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when every port accepts connections; a process that exits first failed to start.
  for (let tries = 0; tries < 300; tries++) {
    if (!running) {
      await stop();
      throw new Error(`${name} did not start:\n${log()}`);
    }
    if ((await Promise.all(ports.map(canConnect))).every(Boolean)) return { dir, log, stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error(`${name} did not listen on ${ports.join(', ')} within 15s:\n${log()}`);
}

/**
 * nginx in the foreground, one process (master_process off, so it never switches user), every path in `dir`.
 * `http` is the body of the http {} block (server blocks); `files` are written into `dir` first (the root).
 */
export async function startNginx(
  http: (dir: string) => string,
  ports: number[],
  files: Record<string, string | Buffer> = {},
): Promise<WebServer> {
  requireBinary('nginx');
  const dir = mkdtempSync(join(tmpdir(), 'nginx-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  mkdirSync(join(dir, 'temp'));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `  ${kind}_temp_path ${dir}/temp/${kind};`)
    .join('\n');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
http {
  access_log off;
${temp}
  types { application/json json; text/html html; }
  default_type application/octet-stream;
${http(dir)}
}
`,
  );
  const errorLog = join(dir, 'error.log');
  return startProcess(
    'nginx',
    dir,
    'nginx',
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', errorLog],
    ports,
    {},
    errorLog,
  );
}

/** Caddy in the foreground from a Caddyfile: no admin endpoint, its storage (and internal CA) in `dir`. */
export async function startCaddy(
  sites: (dir: string) => string,
  ports: number[],
  files: Record<string, string | Buffer> = {},
): Promise<WebServer> {
  requireBinary('caddy');
  const dir = mkdtempSync(join(tmpdir(), 'caddy-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  writeFileSync(
    join(dir, 'Caddyfile'),
    `{
	admin off
	skip_install_trust
	auto_https disable_redirects
	storage file_system ${dir}/data
	default_bind 127.0.0.1
}
${sites(dir)}
`,
  );
  const env = { HOME: dir, XDG_DATA_HOME: join(dir, 'xdg-data'), XDG_CONFIG_HOME: join(dir, 'xdg-config') };
  const server = await startProcess(
    'caddy',
    dir,
    'caddy',
    ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'],
    ports,
    env,
  );
  // Caddy listens before its internal CA has issued the site certificates, and answers a handshake in between with
  // the alert "internal error": wait until every TLS port presents a certificate (a plain-HTTP port is ready as is).
  for (let i = 0; i < 150 && !(await Promise.all(ports.map(handshakeSettled))).every(Boolean); i++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  return server;
}

/** True when a TLS handshake on the port completes (any certificate), or the port speaks plain HTTP. */
function handshakeSettled(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    socket.setTimeout(2000, () => socket.destroy(new Error('timeout')));
    socket.once('secureConnect', () => (socket.destroy(), resolve(true)));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      resolve(error.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || error.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG'),
    );
  });
}

export interface Certificates {
  dir: string;
  /** The test CA (PEM path): what NODE_EXTRA_CA_CERTS would name. */
  ca: string;
  cleanup(): void;
  /** A key and certificate signed by the test CA for the given subjectAltName (`IP:127.0.0.1`), valid `days` (negative: expired). */
  signed(name: string, san: string, days?: number): { key: string; cert: string };
  /** A self-signed key and certificate for 127.0.0.1. */
  selfSigned(name: string): { key: string; cert: string };
}

/** Certificates made with the openssl CLI in a temp dir (paths, so nginx and Caddy can read them). */
export function certificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'certs-'));
  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=deploy-gates test CA',
    '-days',
    '2',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  );
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
    signed(name, san, days = 1) {
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
      openssl(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        `/CN=${name}`,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
      );
      // -days -1 makes notAfter lie before notBefore (now): an expired certificate.
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        String(days),
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.pem`,
      );
      return { key: join(dir, `${name}.key`), cert: join(dir, `${name}.pem`) };
    },
    selfSigned(name) {
      openssl(
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-days',
        '1',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.pem`,
      );
      return { key: join(dir, `${name}.key`), cert: join(dir, `${name}.pem`) };
    },
  };
}
