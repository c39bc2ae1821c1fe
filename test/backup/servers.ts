import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real database servers for the tests: Debian's PostgreSQL and MariaDB, each with its own data directory in a temp
 * dir, listening on 127.0.0.1 and a free port (and a unix socket in that dir), started here and stopped after.
 * Each has a database `app` owned by a user `app` who logs in with `password` over TCP.
 */
export interface DbServer {
  engine: 'postgres' | 'mysql';
  port: number;
  password: string;
  /** `postgres://app:…@127.0.0.1:PORT/app` (the password percent-encoded). */
  url: string;
  /** Runs SQL in `app` as the app user; returns the output (tab-separated rows). */
  sql(statement: string): string;
  /** Runs SQL as the server's administrator (postgres: in database `postgres`; mysql: root, no database). */
  admin(statement: string): string;
  /** Starts SQL as the administrator in `database` without waiting (e.g. a session that holds a lock); kill it after. */
  adminSession(database: string, statement: string): ChildProcess;
  stop(): Promise<void>;
}

/** A password with characters the credential files must escape (`:` and `\` for .pgpass, `"` and `\` for my.cnf). */
export const PASSWORD = `S3cr3t:pw"x\\y-${process.pid}`;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const PG_BIN = () => {
  const base = '/usr/lib/postgresql';
  const version = readdirSync(base).sort((a, b) => Number(b) - Number(a))[0];
  return join(base, version!, 'bin');
};

const asPostgres = (command: string, args: string[]) =>
  execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'pipe', timeout: 60_000 });

export async function startPostgres(): Promise<DbServer> {
  const dir = mkdtempSync(join(tmpdir(), `dg-pg-${process.pid}-`));
  const { uid, gid } = pgIds();
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  const port = await freePort();
  const bin = PG_BIN();
  writeFileSync(join(dir, 'pw'), 'admin-pw\n', { mode: 0o600 });
  chownSync(join(dir, 'pw'), uid, gid);
  asPostgres(join(bin, 'initdb'), [
    '-D',
    join(dir, 'data'),
    '-U',
    'admin',
    `--pwfile=${join(dir, 'pw')}`,
    '-A',
    'scram-sha-256',
    '--no-sync',
  ]);
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  asPostgres(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-o', options, '-w', 'start']);
  const admin = (db: string, statement: string) =>
    execFileSync(
      'psql',
      ['-X', '-q', '-At', '-h', '127.0.0.1', '-p', String(port), '-U', 'admin', '-d', db, '-c', statement],
      {
        env: { ...process.env, PGPASSWORD: 'admin-pw' },
        encoding: 'utf8',
      },
    );
  admin('postgres', `CREATE ROLE app LOGIN PASSWORD '${PASSWORD.replace(/'/g, "''")}'`);
  admin('postgres', 'CREATE DATABASE app OWNER app');
  const adminArgs = (db: string, statement: string) => [
    '-X',
    '-q',
    '-At',
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    'admin',
    '-d',
    db,
    '-c',
    statement,
  ];
  return {
    engine: 'postgres',
    port,
    password: PASSWORD,
    admin: (statement) => admin('postgres', statement),
    adminSession: (db, statement) =>
      spawn('psql', adminArgs(db, statement), { env: { ...process.env, PGPASSWORD: 'admin-pw' }, stdio: 'ignore' }),
    url: `postgres://app:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/app`,
    sql: (statement) =>
      execFileSync(
        'psql',
        [
          '-X',
          '-q',
          '-At',
          '-F',
          '\t',
          '-h',
          '127.0.0.1',
          '-p',
          String(port),
          '-U',
          'app',
          '-d',
          'app',
          '-c',
          statement,
        ],
        {
          env: { ...process.env, PGPASSWORD: PASSWORD },
          encoding: 'utf8',
        },
      ),
    stop: async () => {
      try {
        asPostgres(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function pgIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

export async function startMariadb(): Promise<DbServer> {
  const dir = mkdtempSync(join(tmpdir(), `dg-maria-${process.pid}-`));
  const port = await freePort();
  const socket = join(dir, 'sock');
  execFileSync(
    'mariadb-install-db',
    [
      '--no-defaults',
      '--user=root',
      `--datadir=${join(dir, 'data')}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ],
    { stdio: 'pipe', timeout: 120_000 },
  );
  const server: ChildProcess = spawn(
    'mariadbd',
    [
      '--no-defaults',
      '--user=root',
      `--datadir=${join(dir, 'data')}`,
      `--socket=${socket}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${join(dir, 'pid')}`,
      `--log-error=${join(dir, 'error.log')}`,
      '--innodb-flush-log-at-trx-commit=0',
      '--skip-name-resolve',
    ],
    { stdio: 'ignore' },
  );
  const root = (statement: string) =>
    execFileSync('mariadb', ['--no-defaults', '-S', socket, '-uroot', '-N', '-B', '-e', statement], {
      encoding: 'utf8',
    });
  for (let attempt = 0; ; attempt++) {
    if (server.exitCode !== null) throw new Error(`mariadbd exited with ${server.exitCode}`);
    if (existsSync(socket)) {
      try {
        root('SELECT 1');
        break;
      } catch {
        /* not ready yet */
      }
    }
    if (attempt > 300) throw new Error('mariadbd did not start within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const quoted = PASSWORD.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  root(
    `CREATE DATABASE app; CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '${quoted}'; GRANT ALL ON app.* TO 'app'@'127.0.0.1'; GRANT PROCESS ON *.* TO 'app'@'127.0.0.1';`,
  );
  return {
    engine: 'mysql',
    port,
    password: PASSWORD,
    url: `mysql://app:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/app`,
    sql: (statement) => root(`USE app; ${statement}`),
    admin: root,
    adminSession: (db, statement) =>
      spawn('mariadb', ['--no-defaults', '-S', socket, '-uroot', '-N', '-B', '-D', db, '-e', statement], {
        stdio: 'ignore',
      }),
    stop: async () => {
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        server.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
