// db-backup: the time of a backup against `pg_dump -Fc` alone, and the action's peak memory.
// A PostgreSQL server (test/backup/servers.ts) gets a database of DB_MIB MiB (default 1024; set DB_MIB=256 on a busy
// machine); then, interleaved A,B,A,B (ROUNDS times each):
//   A  dist/db-backup/index.js, mode backup, target local: the lock, pg_dump -Fc teed into the file, sha256sum and a
//      whole-archive pg_restore read while it is written, pg_restore --list of the stored file, manifest, rename
//   B  pg_dump -Fc -f <file> alone, the reference
// The action's peak RSS is its VmHWM from /proc, sampled every 50 ms until it exits. Needs `npm run build` first.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateDefault, inputVariable, readAction } from '#cli/metadata.js';
import { distFile, node24, repoRoot } from '../test/support/paths.js';
import { PASSWORD, startPostgres } from '../test/backup/servers.js';

const MIB = Number(process.env.DB_MIB ?? 1024);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; peakKib: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let peakKib = 0;
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const sample = setInterval(() => {
      try {
        const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (hwm) peakKib = Math.max(peakKib, Number(hwm[1]));
      } catch {
        /* exited */
      }
    }, 50);
    child.on('close', (code) => {
      clearInterval(sample);
      if (code === 0) resolve({ ms: performance.now() - started, peakKib });
      else reject(new Error(`${command} exited with ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const server = await startPostgres();
const base = await mkdtemp(join(tmpdir(), 'dg-bench-backup-'));
try {
  const fillStarted = performance.now();
  const rows = Math.round((MIB * 1024 * 1024) / 112); // ~112 bytes a row on disk, index included
  server.sql(
    `CREATE TABLE events AS SELECT g AS id, md5(g::text) AS a, md5((g * 7)::text) AS b, now() - (g || ' s')::interval AS at FROM generate_series(1, ${rows}) g; ALTER TABLE events ADD PRIMARY KEY (id)`,
  );
  const size = server.sql("SELECT pg_database_size('app')").trim();
  console.log(
    `database: ${(Number(size) / 1024 ** 2).toFixed(0)} MiB (${rows} rows), filled in ${((performance.now() - fillStarted) / 1000).toFixed(0)} s; ${ROUNDS} rounds A,B interleaved`,
  );
  const root = join(base, 'app');
  await mkdir(join(root, 'releases', '20250101_120000-aaaaaaaa'), { recursive: true });
  await symlink('releases/20250101_120000-aaaaaaaa', join(root, 'current'));
  const inputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(readAction(repoRoot, 'db-backup').inputs))
    inputs[inputVariable(name)] = evaluateDefault(String(spec.default ?? ''), {});
  const actionEnv = {
    ...process.env,
    ...inputs,
    [inputVariable('engine')]: 'postgres',
    [inputVariable('releases-root')]: root,
    [inputVariable('database-url')]: server.url,
    [inputVariable('keep')]: '1',
    RUNNER_TEMP: base,
  };
  const a: { ms: number; peakKib: number }[] = [];
  const b: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    a.push(await run(node24, [distFile('db-backup')], actionEnv));
    const out = join(base, `reference-${round}.pgdump`);
    const ref = await run(
      'pg_dump',
      ['-Fc', '-h', '127.0.0.1', '-p', String(server.port), '-U', 'app', '-f', out, 'app'],
      { ...process.env, PGPASSWORD: PASSWORD },
    );
    b.push(ref.ms);
    await rm(out, { force: true });
    console.log(
      `round ${round + 1}: db-backup ${(a.at(-1)!.ms / 1000).toFixed(2)} s (peak RSS ${(a.at(-1)!.peakKib / 1024).toFixed(1)} MiB), pg_dump -Fc ${(ref.ms / 1000).toFixed(2)} s`,
    );
  }
  const ratio = median(a.map((x) => x.ms)) / median(b);
  const peak = Math.max(...a.map((x) => x.peakKib)) / 1024;
  console.log('');
  console.log(
    `median: db-backup ${(median(a.map((x) => x.ms)) / 1000).toFixed(2)} s, pg_dump -Fc alone ${(median(b) / 1000).toFixed(2)} s`,
  );
  console.log(`ratio db-backup / pg_dump -Fc: ${ratio.toFixed(3)} (target ≤ 1.10) ${ratio <= 1.1 ? 'OK' : 'OVER'}`);
  console.log(`peak RSS of the action: ${peak.toFixed(1)} MiB (target < 100) ${peak < 100 ? 'OK' : 'OVER'}`);
} finally {
  await server.stop();
  await rm(base, { recursive: true, force: true });
}
