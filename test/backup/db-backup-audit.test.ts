import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogger } from '#core/logger.js';
import { LocalTarget } from '#core/hosts/local.js';
import {
  ARCHIVE_MTIME,
  connectionFromEnv,
  credentialFile,
  parseDatabaseUrl,
  readManifest,
  restoreBackup,
  takeBackup,
  type BackupConfig,
  type Engine,
} from '#core/backup/index.js';
import { backupScript } from '#core/backup/scripts.js';
import { newMarker, runRecords } from '#core/backup/session.js';
import { startMariadb, startPostgres, type DbServer } from './servers.js';

/** The defects an audit found in db-backup, each with the attack or case that showed it. */
const servers = {} as Record<Engine, DbServer>;
const target = new LocalTarget();
let base: string;
let n = 0;

beforeAll(async () => {
  [servers.postgres, servers.mysql] = await Promise.all([startPostgres(), startMariadb()]);
  base = await mkdtemp(join(tmpdir(), `dg-backup-audit-${process.pid}-`));
}, 180_000);
afterAll(async () => {
  await Promise.all(Object.values(servers).map((server) => server.stop()));
  await rm(base, { recursive: true, force: true });
});

/** A fresh releases-root with one release, `current` and shared/. */
async function releasesRoot(): Promise<string> {
  const root = join(base, `app-${++n}`);
  await mkdir(join(root, 'releases', '20250101_120000-aaaaaaaa'), { recursive: true });
  await mkdir(join(root, 'shared'));
  await symlink('releases/20250101_120000-aaaaaaaa', join(root, 'current'));
  return root;
}

/** The server's URL for another database (and query). */
const urlOf = (server: DbServer, database: string, query = '') =>
  server.url.replace(/\/app$/, `/${encodeURIComponent(database)}${query}`);

const config = (server: DbServer, root: string, extra: Partial<BackupConfig> = {}): BackupConfig => ({
  engine: server.engine,
  releasesRoot: root,
  backupsRoot: 'backups',
  databaseUrl: server.url,
  paths: [],
  label: 'audit',
  keep: 10,
  lockTimeoutMs: 10_000,
  ...extra,
});

const seedUsers = (server: DbServer, rows: number) =>
  server.sql(
    server.engine === 'postgres'
      ? `DROP TABLE IF EXISTS users; CREATE TABLE users (id int PRIMARY KEY); INSERT INTO users SELECT generate_series(1, ${rows})`
      : `DROP TABLE IF EXISTS users; CREATE TABLE users (id int PRIMARY KEY); INSERT INTO users SELECT seq FROM seq_1_to_${rows}`,
  );

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('input parsing', () => {
  it('uses the LAST definition of a key in env-file, as Laravel does', () => {
    const env = ['DB_CONNECTION=pgsql', 'DB_DATABASE=app_old', 'DB_USERNAME=app', 'DB_DATABASE=app'].join('\n');
    expect(connectionFromEnv(env, 'postgres', 'shared/.env').database).toBe('app');
  });

  it('honours ?sslmode for postgres and refuses any other query parameter by name', () => {
    const url = 'postgres://u:pw@h/app';
    expect(parseDatabaseUrl(`${url}?sslmode=require`, 'postgres', 'database-url').sslMode).toBe('require');
    expect(parseDatabaseUrl(`${url}?host=/run/postgresql`, 'postgres', 'database-url').host).toBe('/run/postgresql');
    expect(() => parseDatabaseUrl(`${url}?sslmode=sometimes`, 'postgres', 'database-url')).toThrow(
      'sslmode "sometimes" is not one of disable, allow, prefer, require, verify-ca, verify-full',
    );
    expect(() => parseDatabaseUrl(`${url}?connect_timeout=5`, 'postgres', 'database-url')).toThrow(
      'database-url: the query parameter "connect_timeout" is not supported (only sslmode, host and socket are',
    );
    expect(() => parseDatabaseUrl('mysql://u:pw@h/app?ssl-mode=REQUIRED', 'mysql', 'database-url')).toThrow(
      'the query parameter "ssl-mode" is not supported for mysql (it would not be applied, and the dump would not be encrypted)',
    );
    expect(() => parseDatabaseUrl('mysql://u:pw@h/app?charset=utf8mb4', 'mysql', 'database-url')).toThrow(
      'the query parameter "charset" is not supported',
    );
  });
});

describe('db-backup against real servers', () => {
  it('runs nothing from a database name holding $( ) or backticks; a name holding " is backed up and restored', async () => {
    const pg = servers.postgres;
    const names = ['x$(touch PWNED)y', 'x`touch PWNED`y', 'my"db'];
    for (const name of names) pg.admin(`CREATE DATABASE "${name.replace(/"/g, '""')}" OWNER app`);
    const root = await releasesRoot();
    // From database-url, and from the env-file the host holds (written as an attacker with write access would).
    // Each its own label: backup ids are second-stamped, and three backups may fall in one second.
    const fromUrl = await takeBackup(target, config(pg, root, { databaseUrl: urlOf(pg, names[0]!), label: 'u' }));
    await writeFile(
      join(root, 'shared/.env'),
      `DB_CONNECTION=pgsql\nDB_HOST=127.0.0.1\nDB_PORT=${pg.port}\nDB_DATABASE="${names[1]}"\nDB_USERNAME=app\nDB_PASSWORD='${pg.password}'\n`,
    );
    const fromEnv = await takeBackup(
      target,
      config(pg, root, { databaseUrl: undefined, envFile: 'shared/.env', label: 'e' }),
    );
    const quoted = await takeBackup(target, config(pg, root, { databaseUrl: urlOf(pg, names[2]!), label: 'q' }));
    for (const place of [root, join(root, 'current'), process.cwd()])
      expect(existsSync(join(place, 'PWNED'))).toBe(false);
    expect([fromUrl, fromEnv, quoted].map((outcome) => [outcome.failure, outcome.manifest?.database])).toEqual(
      names.map((name) => [undefined, name]),
    );
    const restored = await restoreBackup(target, {
      ...config(pg, root, { databaseUrl: urlOf(pg, names[2]!) }),
      backupId: quoted.id!,
    });
    expect(restored.failure).toBeUndefined();

    const my = servers.mysql;
    my.admin("CREATE DATABASE `my\"db`; GRANT ALL ON `my\"db`.* TO 'app'@'127.0.0.1'");
    const myQuoted = await takeBackup(target, config(my, root, { databaseUrl: urlOf(my, 'my"db'), label: 'm' }));
    expect(myQuoted.failure).toBeUndefined();
    const myRestored = await restoreBackup(target, {
      ...config(my, root, { databaseUrl: urlOf(my, 'my"db') }),
      backupId: myQuoted.id!,
    });
    expect(myRestored.failure).toBeUndefined();
  }, 120_000);

  it('applies ?sslmode=require: a postgres server without TLS is refused, nothing dumped in plaintext', async () => {
    const root = await releasesRoot();
    const pg = servers.postgres;
    const required = await takeBackup(target, config(pg, root, { databaseUrl: urlOf(pg, 'app', '?sslmode=require') }));
    expect(required.ok).toBe(false);
    expect(required.failure).toContain('server does not support SSL, but SSL was required');
    expect(required.failure).toContain('the TLS connection sslmode=require asks for could not be made');
    const disabled = await takeBackup(target, config(pg, root, { databaseUrl: urlOf(pg, 'app', '?sslmode=disable') }));
    expect(disabled.failure).toBeUndefined();
    expect(disabled.manifest?.server.address).toContain('/app?sslmode=disable');
  }, 60_000);

  it('logs the size written so far while the dump runs (a number, also under dash)', async () => {
    const pg = servers.postgres;
    seedUsers(pg, 1000);
    const root = await releasesRoot();
    // A session holding an exclusive lock on users makes pg_dump wait ~3 s: long enough for progress lines.
    const locker = pg.adminSession(
      'app',
      'BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT',
    );
    try {
      await until(
        () =>
          pg
            .admin("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND locktype = 'relation'")
            .trim() !== '0',
        'the lock',
      );
      const connection = parseDatabaseUrl(pg.url, 'postgres', 'database-url');
      const marker = newMarker();
      const spec = { root, backupsRoot: 'backups', id: '20250101_000000-progress', connection, paths: [] };
      const script = backupScript({ ...spec, guard: ':', marker, mtime: ARCHIVE_MTIME, progressSeconds: 1 });
      const logger = new MemoryLogger();
      const { records } = await runRecords(target, script, marker, credentialFile(connection), { logger });
      expect(records.at(-1)).toEqual(['ok']);
      const progress = logger.lines.map((line) => line.message).filter((line) => line.startsWith('written'));
      expect(progress.length).toBeGreaterThan(0);
      for (const line of progress) expect(line).toMatch(/^written \d+ bytes$/);
    } finally {
      locker.kill();
    }
  }, 60_000);

  it('refuses a manifest whose database file is not database.*, as not a deploy-gates manifest', async () => {
    const pg = servers.postgres;
    const root = await releasesRoot();
    const taken = await takeBackup(target, config(pg, root));
    expect(taken.ok).toBe(true);
    const dir = join(root, 'backups', taken.id!);
    await rename(join(dir, 'database.pgdump'), join(dir, 'dump.pgdump'));
    const text = readFileSync(join(dir, 'manifest.json'), 'utf8').replace('"database.pgdump"', '"dump.pgdump"');
    await writeFile(join(dir, 'manifest.json'), text);
    expect(readManifest(text)).toEqual({
      problem:
        'manifest.json is not a deploy-gates backup manifest (files: a postgres backup holds one database file named database.pgdump, this one lists dump.pgdump)',
    });
    const restored = await restoreBackup(target, { ...config(pg, root), backupId: taken.id! });
    expect(restored.ok).toBe(false);
    expect(restored.failure).toContain(`Backup ${taken.id} on local cannot be restored: manifest.json is not a deploy`);
  }, 60_000);

  it('tells MariaDB error 1044 (no such database, or no grant) as that, not as a refused login', async () => {
    const root = await releasesRoot();
    const outcome = await takeBackup(
      target,
      config(servers.mysql, root, { databaseUrl: urlOf(servers.mysql, 'nodb') }),
    );
    expect(outcome.ok).toBe(false);
    expect(outcome.failure).toContain('"app" logged in but may not use the database "nodb"');
    expect(outcome.failure).toContain('the database does not exist or the user has no grant on it');
    expect(outcome.failure).not.toContain('refused the login');
  }, 60_000);

  it('warns that a cancelled MySQL restore may have left the database partly restored', async () => {
    const my = servers.mysql;
    seedUsers(my, 1000);
    const root = await releasesRoot();
    const taken = await takeBackup(target, config(my, root));
    expect(taken.ok).toBe(true);
    // The restore's DROP TABLE waits for this session's lock: it is cancelled mid-restore, deterministically.
    const locker = my.adminSession('app', 'LOCK TABLES users WRITE; SELECT SLEEP(60)');
    const processes = (where: string) =>
      my.admin(`SELECT count(*) FROM information_schema.processlist WHERE ${where}`).trim();
    try {
      await until(() => processes("info LIKE 'SELECT SLEEP(60)%'") !== '0', 'the lock');
      const abort = new AbortController();
      const restoring = restoreBackup(target, { ...config(my, root), backupId: taken.id!, signal: abort.signal });
      await until(() => processes("state LIKE '%metadata lock%'") !== '0', 'the restore to wait for the lock');
      abort.abort();
      const restored = await restoring;
      expect(restored.ok).toBe(false);
      expect(restored.failure).toContain('cancelled');
      expect(restored.failure).toContain('the database may be partly restored — restore again');
    } finally {
      locker.kill();
    }
  }, 60_000);
});
