import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanup, runBundle, type BundleRun } from '../support/run-bundle.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { PASSWORD, startMariadb, startPostgres, type DbServer } from './servers.js';

const runs: BundleRun[] = [];
async function step(inputs: Record<string, string>, env: Record<string, string> = {}): Promise<BundleRun> {
  const run = await runBundle('db-backup', inputs, env);
  runs.push(run);
  return run;
}

/** A PATH of links to every program in /usr/bin and /usr/sbin but `leaveOut`, plus `extra` scripts. */
function pathWithout(leaveOut: string, extra: Record<string, string> = {}): { path: string; remove: () => void } {
  const bin = mkdtempSync(join(tmpdir(), `dg-bin-${process.pid}-`));
  for (const [name, script] of Object.entries(extra)) writeFileSync(join(bin, name), script, { mode: 0o755 });
  for (const dir of ['/usr/sbin', '/usr/bin'])
    for (const name of readdirSync(dir))
      if (name !== leaveOut && !(name in extra))
        try {
          symlinkSync(join(dir, name), join(bin, name));
        } catch {
          /* the /usr/bin one wins */
        }
  return { path: bin, remove: () => rmSync(bin, { recursive: true, force: true }) };
}

describe('dist/db-backup/index.js', () => {
  let base: string;
  let sshd: Sshd;
  let postgres: DbServer;
  let mariadb: DbServer;
  let n = 0;
  const root = async () => {
    const dir = join(base, `app ${++n}`);
    await mkdir(join(dir, 'releases', '20250101_120000-aaaaaaaa'), { recursive: true });
    await symlink('releases/20250101_120000-aaaaaaaa', join(dir, 'current'));
    return dir;
  };
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), `dg-backup-action-${process.pid}-`));
    [sshd, postgres, mariadb] = await Promise.all([startSshd(), startPostgres(), startMariadb()]);
    postgres.sql('CREATE TABLE t AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 20000) g');
    mariadb.sql('CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)');
  }, 180_000);
  afterAll(async () => {
    await Promise.all([sshd?.stop(), postgres?.stop(), mariadb?.stop()]);
    await rm(base, { recursive: true, force: true });
    runs.splice(0).forEach(cleanup);
  });

  it('backs up over ssh with database-url: outputs, manifest and report agree; the password is nowhere', async () => {
    const dir = await root();
    const run = await step(
      {
        engine: 'postgres',
        'releases-root': dir,
        'database-url': postgres.url,
        target: sshd.address,
        'ssh-key': sshd.privateKey,
        'known-hosts': sshd.knownHosts,
      },
      { GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567', GITHUB_RUN_ID: '77', GITHUB_REPOSITORY: 'acme/app' },
    );
    expect(run.exitCode).toBe(0);
    expect(run.outputs['backup-id']).toMatch(/^\d{8}_\d{6}-01234567$/);
    const manifest = JSON.parse(readFileSync(join(dir, 'backups', run.outputs['backup-id']!, 'manifest.json'), 'utf8'));
    expect(run.outputs.sha256).toBe(manifest.files[0].sha256);
    expect(run.outputs.size).toBe(String(manifest.files[0].size));
    expect(run.outputs.path).toBe(`backups/${run.outputs['backup-id']}`);
    expect(manifest).toMatchObject({
      sha: '0123456789abcdef0123456789abcdef01234567',
      release: '20250101_120000-aaaaaaaa',
    });
    expect(manifest.run).toContain('acme/app/actions/runs/77 (attempt 1');
    const report = readFileSync(run.outputs.report!, 'utf8');
    expect(JSON.parse(report)).toMatchObject({ action: 'db-backup', stage: 'backup', ok: true });
    expect(run.log).toContain('::add-mask::');
    const log = run.log.replace(/^::add-mask::.*\n/gm, '');
    for (const text of [log, report, run.summary, JSON.stringify(manifest)]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(encodeURIComponent(PASSWORD));
    }
  }, 60_000);

  it('backs up and restores with a Laravel env-file; the password read on the host is masked', async () => {
    const dir = await root();
    await mkdir(join(dir, 'shared'));
    const env = [
      'APP_KEY=base64:not-for-the-runner',
      'DB_CONNECTION=mysql',
      'DB_HOST=127.0.0.1',
      `DB_PORT=${mariadb.port}`,
      'DB_DATABASE=app',
      'DB_USERNAME=app',
      `DB_PASSWORD='${PASSWORD}'`,
    ];
    await writeFile(join(dir, 'shared', '.env'), env.join('\n'));
    const inputs = { engine: 'mysql', 'releases-root': dir, 'env-file': 'shared/.env', label: 'pre-migrate' };
    const backup = await step(inputs);
    expect(backup.exitCode).toBe(0);
    mariadb.sql('DELETE FROM t');
    const restore = await step({ ...inputs, mode: 'restore' });
    expect(restore.exitCode).toBe(0);
    expect(restore.outputs['backup-id']).toBe(backup.outputs['backup-id']);
    expect(mariadb.sql('SELECT count(*) FROM t').trim()).toBe('2');
    for (const run of [backup, restore]) {
      expect(run.log).toContain(`::add-mask::${PASSWORD}`);
      const withoutMask = run.log.replace(/^::add-mask::.*\n/gm, '');
      expect(withoutMask).not.toContain(PASSWORD);
      expect(readFileSync(run.outputs.report!, 'utf8')).not.toContain(PASSWORD);
      expect(withoutMask).not.toContain('not-for-the-runner');
    }
  }, 60_000);

  it('refuses a dump cut short by the tool: the step fails and nothing half-written is left', async () => {
    const dir = await root();
    // A pg_dump that ends "successfully" after 2000 bytes, as one killed by a full pipe or a broken client might.
    const bin = pathWithout('pg_dump', { pg_dump: '#!/bin/sh\n/usr/bin/pg_dump "$@" | head -c 2000\n' });
    try {
      const run = await step(
        { engine: 'postgres', 'releases-root': dir, 'database-url': postgres.url },
        { PATH: bin.path },
      );
      expect(run.exitCode).toBe(1);
      expect(run.log).toContain('the dump did not verify (pg_restore could not read it whole');
      expect(run.log).toContain('Nothing was stored as a backup');
      expect(readdirSync(join(dir, 'backups'))).toEqual([]);
    } finally {
      bin.remove();
    }
  }, 60_000);

  it('names the fix for an unknown engine and a missing pg_dump, and changes nothing', async () => {
    const dir = await root();
    const engine = await step({ engine: 'oracle', 'releases-root': dir, 'database-url': postgres.url });
    expect(engine.exitCode).toBe(1);
    expect(engine.log).toContain('Input "engine": "oracle" is not an engine; use postgres or mysql');
    const bin = pathWithout('pg_dump');
    try {
      const missing = await step(
        { engine: 'postgres', 'releases-root': dir, 'database-url': postgres.url },
        { PATH: bin.path },
      );
      expect(missing.exitCode).toBe(1);
      expect(missing.log).toContain('pg_dump is not installed on local');
      expect(missing.log).toContain('apt-get install postgresql-client');
    } finally {
      bin.remove();
    }
    expect(readdirSync(dir).sort()).toEqual(['current', 'releases']);
  }, 60_000);

  it('tells a bad sha, env-file, database URL or releases-root by input before it touches the target', async () => {
    const dir = await root();
    const broken = postgres.url.replace(/:[^:@/]*@/, ':Se%ZZcret@');
    for (const [inputs, message] of [
      [{ sha: 'xyz' }, 'Input "sha": "xyz" is not a commit SHA (7 to 40 hex digits), e.g. ${{ github.sha }}'],
      [
        { 'database-url': '', 'env-file': '../../../../etc/passwd' },
        'Input "env-file": "../../../../etc/passwd" goes through ".."; give the file under releases-root',
      ],
      // (`%` is written %25 inside a workflow command: the runner shows it as `%`.)
      [{ 'database-url': broken }, 'Input "database-url": database-url has a "%25" that is not a %25-escape'],
      [{ 'env-file': 'shared/.env' }, 'Input "env-file": pass database-url or env-file, not both'],
    ] as const) {
      const run = await step({ engine: 'postgres', 'releases-root': dir, 'database-url': postgres.url, ...inputs });
      expect(run.exitCode).toBe(1);
      expect(run.log).toContain(`::error::${message}`);
      expect(run.log).not.toContain('Unexpected error');
    }
    // No lock file, no backups/: nothing on the target changed.
    expect(readdirSync(dir).sort()).toEqual(['current', 'releases']);
    const missing = await step({
      engine: 'postgres',
      'releases-root': join(dir, 'nope'),
      'database-url': postgres.url,
    });
    expect(missing.log).toContain(`::error::Input "releases-root": ${join(dir, 'nope')} is not a directory on local`);
  }, 60_000);
});
