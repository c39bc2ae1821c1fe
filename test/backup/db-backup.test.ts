import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogger } from '#core/logger.js';
import { Redactor } from '#core/redact.js';
import {
  backupsToPrune,
  connectionFromEnv,
  credentialFile,
  parseDatabaseUrl,
  readManifest,
  restoreBackup,
  takeBackup,
  type BackupConfig,
  type Engine,
} from '#core/backup/index.js';
import type { Target } from '#core/hosts/target.js';
import { parseGates } from '#core/gates/spec.js';
import { runGates } from '#core/gates/run.js';
import { targetKinds } from '../support/targets.js';
import { PASSWORD, startMariadb, startPostgres, type DbServer } from './servers.js';

const servers = {} as Record<Engine, DbServer>;
const ENGINES: Engine[] = ['postgres', 'mysql'];

beforeAll(async () => {
  [servers.postgres, servers.mysql] = await Promise.all([startPostgres(), startMariadb()]);
}, 180_000);
afterAll(async () => {
  await Promise.all(Object.values(servers).map((server) => server.stop()));
});

/** A releases-root whose path needs quoting, with one release and `current`. */
async function releasesRoot(base: string, name: string): Promise<string> {
  const root = join(base, `app $(touch PWNED) it's ${name}`);
  await mkdir(join(root, 'releases', '20250101_120000-aaaaaaaa', 'storage', 'app'), { recursive: true });
  await writeFile(join(root, 'releases', '20250101_120000-aaaaaaaa', 'storage', 'app', 'upload.txt'), 'uploaded\n');
  await symlink('releases/20250101_120000-aaaaaaaa', join(root, 'current'));
  return root;
}

const seed = (server: DbServer) =>
  server.engine === 'postgres'
    ? server.sql(
        "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, note text); INSERT INTO users SELECT g, 'user' || g || '@example.org', md5(g::text) FROM generate_series(1, 50000) g",
      )
    : server.sql(
        "CREATE TABLE users (id int PRIMARY KEY, email varchar(100) NOT NULL, note varchar(64)); INSERT INTO users SELECT seq, CONCAT('user', seq, '@example.org'), MD5(seq) FROM seq_1_to_50000",
      );

const config = (server: DbServer, root: string, extra: Partial<BackupConfig> = {}): BackupConfig => ({
  engine: server.engine,
  releasesRoot: root,
  backupsRoot: 'backups',
  databaseUrl: server.url,
  paths: [],
  label: 'abcdef12',
  keep: 10,
  lockTimeoutMs: 10_000,
  ...extra,
});

/** Samples the whole process list (every argv) until stopped. */
function sampleProcesses(): { stop: () => Promise<string[]> } {
  const samples: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push(
        await new Promise<string>((resolve) =>
          execFile('ps', ['-eww', '-o', 'args='], { maxBuffer: 16 << 20 }, (_, out) => resolve(out ?? '')),
        ),
      );
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

describe('pure parts', () => {
  it('reads a Laravel .env as Laravel does, and a DATABASE_URL over the DB_* keys', () => {
    const env = [
      'APP_KEY=base64:ignored',
      'DB_CONNECTION=pgsql',
      'export DB_HOST=db.internal',
      'DB_PORT=5433',
      'DB_DATABASE="app_prod" # the live one',
      "DB_USERNAME='deploy'",
      // Defined twice: the last definition counts, as in Laravel (phpdotenv v5).
      'DB_PASSWORD=first-definition-overridden',
      'DB_PASSWORD="p\\"w#1"',
    ].join('\r\n');
    expect(connectionFromEnv(env, 'postgres', '.env')).toEqual({
      engine: 'postgres',
      host: 'db.internal',
      port: 5433,
      database: 'app_prod',
      user: 'deploy',
      password: 'p"w#1',
    });
    expect(() => connectionFromEnv(env, 'mysql', '.env')).toThrow(
      'DB_CONNECTION in .env is "pgsql" but engine is mysql',
    );
    const url = connectionFromEnv(`${env}\nDATABASE_URL=postgres://u:p%40ss@h:6000/other`, 'postgres', '.env');
    expect(url).toMatchObject({ host: 'h', port: 6000, database: 'other', password: 'p@ss' });
  });

  it('refuses URLs whose parts a client would read as options or connection strings, without quoting the password', () => {
    expect(() => parseDatabaseUrl('postgres://u:pw@h/db%3Dx%20host%3Devil', 'postgres', 'database-url')).toThrow(
      'is not a plain name',
    );
    expect(() => parseDatabaseUrl('mysql://u:pw@h/app', 'postgres', 'database-url')).toThrow(
      'is a mysql URL but engine is postgres',
    );
    let message = '';
    try {
      parseDatabaseUrl('postgres://u:hunter2-secret@h:99999/app', 'postgres', 'database-url');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('database-url is not a URL');
    expect(message).not.toContain('hunter2');
  });

  it('escapes the password in the credential files', () => {
    const connection = parseDatabaseUrl(`postgres://a%3Ab:${encodeURIComponent('x:y\\z')}@h/app`, 'postgres', 'u');
    expect(credentialFile(connection)).toBe('*:*:*:a\\:b:x\\:y\\\\z\n');
    const mysql = parseDatabaseUrl(`mysql://app:${encodeURIComponent('q"\\')}@127.0.0.1:3307/app`, 'mysql', 'u');
    expect(credentialFile(mysql)).toContain('password="q\\"\\\\"');
  });

  it('prunes all but the newest `keep`, never the newest nor one in use', () => {
    const names = ['20250101_000000-a', '20250102_000000-b', '20250103_000000-c', '20250104_000000-d'];
    expect(backupsToPrune(names, 2, new Set())).toEqual(names.slice(0, 2));
    expect(backupsToPrune(names, 2, new Set([names[0]!]))).toEqual([names[1]]);
    expect(backupsToPrune(names, 0, new Set())).toEqual(names.slice(0, 3));
    expect(backupsToPrune([...names, '.incoming-x', 'notes'], 10, new Set())).toEqual([]);
  });
});

describe.each(targetKinds)('db-backup on the $name target', (kind) => {
  let target: Target;
  let base: string;

  beforeAll(async () => {
    target = await kind.setup();
    base = await mkdtemp(join(tmpdir(), `dg-backup-${process.pid}-`));
  }, 60_000);
  afterAll(async () => {
    await kind.teardown();
    await rm(base, { recursive: true, force: true });
  });

  it.each(ENGINES)(
    '%s: backup, a destructive migration, restore — the data is back; the password is in no argv and no log',
    async (engine) => {
      const server = servers[engine];
      const db = `${kind.name}_${engine}`;
      server.sql('DROP TABLE IF EXISTS users; DROP TABLE IF EXISTS added_later');
      seed(server);
      const root = await releasesRoot(base, db);
      const logger = new MemoryLogger();
      const ps = sampleProcesses();
      const taken = await takeBackup(target, config(server, root, { paths: ['storage/app'] }), { logger });
      const samples = await ps.stop();
      expect(taken.failure).toBeUndefined();
      expect(taken.ok).toBe(true);
      const dir = join(root, 'backups', taken.id!);
      const manifest = readManifest(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      if ('problem' in manifest) throw new Error(manifest.problem);
      expect(manifest.manifest).toMatchObject({ engine, database: 'app', release: '20250101_120000-aaaaaaaa' });
      expect(manifest.manifest.server.version).toMatch(/^\d+\.\d+/);
      expect(manifest.manifest.files.map((file) => file.name)).toEqual([
        engine === 'postgres' ? 'database.pgdump' : 'database.sql',
        'files.tar.gz',
      ]);
      expect(statSync(dir).mode & 0o077).toBe(0);
      expect(readdirSync(join(root, 'backups')).filter((name) => name.startsWith('.'))).toEqual([]);

      // The dump ran while the process list was sampled; no argv held the password, no log line either.
      expect(samples.length).toBeGreaterThan(2);
      for (const sample of samples) {
        expect(sample).not.toContain(PASSWORD);
        expect(sample).not.toContain(encodeURIComponent(PASSWORD));
      }
      expect(JSON.stringify(logger.lines)).not.toContain(PASSWORD);
      expect(readdirSync(tmpdir()).filter((name) => name.startsWith('dg-db-'))).toEqual([]);

      server.sql(
        engine === 'postgres'
          ? 'ALTER TABLE users DROP COLUMN note; DELETE FROM users WHERE id > 10; CREATE TABLE added_later (x int)'
          : 'ALTER TABLE users DROP COLUMN note; DELETE FROM users WHERE id > 10',
      );
      expect(server.sql('SELECT count(*) FROM users').trim()).toBe('10');

      const restored = await restoreBackup(target, { ...config(server, root), backupId: 'latest' }, { logger });
      expect(restored.failure).toBeUndefined();
      expect(restored.id).toBe(taken.id);
      expect(server.sql('SELECT count(*), count(note) FROM users').trim()).toBe('50000\t50000');
      // What the dump does not hold stays: a table created after the backup is not dropped (said in the README).
      if (engine === 'postgres') expect(server.sql('SELECT count(*) FROM added_later').trim()).toBe('0');
      expect(existsSync(join(dir, '.restoring'))).toBe(false);
      expect(JSON.stringify(logger.lines)).not.toContain(PASSWORD);
      expect(existsSync(join(base, 'PWNED'))).toBe(false);
    },
    120_000,
  );
});

describe('refusals', () => {
  const local = targetKinds[0]!;
  let target: Target;
  let base: string;
  beforeAll(async () => {
    target = await local.setup();
    base = await mkdtemp(join(tmpdir(), `dg-backup-refuse-${process.pid}-`));
  });
  afterAll(async () => rm(base, { recursive: true, force: true }));

  it('refuses to restore a truncated dump, and leaves the database alone', async () => {
    const server = servers.postgres;
    server.sql('DROP TABLE IF EXISTS users');
    seed(server);
    const root = await releasesRoot(base, 'truncated');
    const taken = await takeBackup(target, config(server, root), {});
    expect(taken.ok).toBe(true);
    const dump = join(root, 'backups', taken.id!, 'database.pgdump');
    await truncate(dump, statSync(dump).size - 100);
    server.sql('DELETE FROM users WHERE id > 5');
    const restored = await restoreBackup(target, { ...config(server, root), backupId: taken.id! }, {});
    expect(restored.ok).toBe(false);
    expect(restored.failure).toContain('nothing was restored');
    expect(server.sql('SELECT count(*) FROM users').trim()).toBe('5');
  }, 60_000);

  it('prunes to `keep` on the target, leaving a backup a restore has in use', async () => {
    const server = servers.mysql;
    const root = await releasesRoot(base, 'prune');
    const ids: string[] = [];
    for (const label of ['a', 'b']) ids.push((await takeBackup(target, config(server, root, { label, keep: 1 }))).id!);
    expect(readdirSync(join(root, 'backups'))).toEqual([ids[1]]);
    await writeFile(join(root, 'backups', ids[1]!, '.restoring'), 'a restore that died\n');
    for (const label of ['c', 'd']) ids.push((await takeBackup(target, config(server, root, { label, keep: 1 }))).id!);
    expect(readdirSync(join(root, 'backups')).sort()).toEqual([ids[1], ids[3]].sort());
  }, 60_000);

  it('refuses a missing env-file by name, and releases the lock', async () => {
    const root = await releasesRoot(base, 'noenv');
    const attempt = takeBackup(target, config(servers.mysql, root, { databaseUrl: undefined, envFile: 'shared/.env' }));
    await expect(attempt).rejects.toThrow(
      'shared/.env is missing on the target (a relative path is under releases-root',
    );
    expect(existsSync(join(root, '.deploy-lock'))).toBe(false);
    expect(existsSync(join(root, 'backups'))).toBe(false);
  }, 30_000);

  it('names the fix for a wrong password and an unreachable server, and stores nothing', async () => {
    const server = servers.postgres;
    const root = await releasesRoot(base, 'wrong');
    const redactor = new Redactor();
    const wrong = await takeBackup(
      target,
      config(server, root, { databaseUrl: server.url.replace(encodeURIComponent(PASSWORD), 'not-the-password') }),
      { redactor },
    );
    expect(wrong.ok).toBe(false);
    expect(wrong.failure).toContain('the server refused the login of "app"');
    expect(wrong.failure).toContain('check the password in database-url');
    const closed = await takeBackup(
      target,
      config(server, root, { databaseUrl: `postgres://app:x@127.0.0.1:1/app` }),
      {},
    );
    expect(closed.failure).toContain('cannot reach postgres://app@127.0.0.1:1/app');
    expect(readdirSync(join(root, 'backups'))).toEqual([]);
  }, 60_000);
});

describe('the backup-fresh gate', () => {
  const local = targetKinds[0]!;
  let target: Target;
  let base: string;
  beforeAll(async () => {
    target = await local.setup();
    base = await mkdtemp(join(tmpdir(), `dg-backup-fresh-${process.pid}-`));
  });
  afterAll(async () => rm(base, { recursive: true, force: true }));

  const check = async (release: string, yaml: string) => {
    const gates = parseGates(yaml, { source: 'gates' });
    const outcome = await runGates(target, release, gates, { timeoutMs: 30_000 });
    return outcome.results[0]!;
  };

  it('passes with a verified backup younger than max-age, and fails without one, when stale, or when tampered', async () => {
    const server = servers.postgres;
    const root = await releasesRoot(base, 'fresh');
    const release = join(root, 'releases', '20250101_120000-aaaaaaaa');
    const none = await check(release, '- backup-fresh: {max-age: 24h}');
    expect(none).toMatchObject({ status: 'fail' });
    expect(none.detail).toContain('does not exist');

    const taken = await takeBackup(target, config(server, root), {});
    expect(taken.ok).toBe(true);
    const fresh = await check(release, '- backup-fresh: {max-age: 24h, database: app}');
    expect(fresh.status).toBe('pass');
    expect(fresh.detail).toContain(taken.id!);

    const otherDb = await check(release, '- backup-fresh: {max-age: 24h, database: other}');
    expect(otherDb).toMatchObject({ status: 'fail' });
    expect(otherDb.detail).toContain('no backup of database "other"');

    // Made to look a day and a half old: its `created` time and manifest agree, and the gate judges by them.
    const dir = join(root, 'backups', taken.id!);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    manifest.createdEpoch -= 36 * 3600;
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    await writeFile(join(dir, 'created'), `${manifest.createdEpoch}\n`);
    const stale = await check(release, '- backup-fresh: {max-age: 24h}');
    expect(stale).toMatchObject({ status: 'fail' });
    expect(stale.detail).toMatch(/no backup younger than max-age 24h; the newest, .*, is 1\.5h|36h/);

    const again = await takeBackup(target, config(server, root, { label: 'second' }), {});
    await writeFile(join(root, 'backups', again.id!, 'database.pgdump'), 'tampered');
    const tampered = await check(release, '- backup-fresh: {max-age: 24h}');
    expect(tampered).toMatchObject({ status: 'fail' });
    expect(tampered.detail).toContain('no longer matches its manifest');
  }, 60_000);

  it('rejects unknown keys and a missing max-age with the valid keys named', () => {
    expect(() => parseGates('- backup-fresh: {maxage: 24h}', { source: 'gates' })).toThrow(
      'unknown key "maxage" for backup-fresh; valid keys: max-age, backups-root, database',
    );
    expect(() => parseGates('- backup-fresh: {max-age: soon}', { source: 'gates' })).toThrow('is not a duration');
  });
});
