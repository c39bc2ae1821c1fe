import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checksumFor, formatChecksumLine, parseChecksumFile } from '#core/bundle/checksum-file.js';
import { sha256File } from '#core/bundle/hash.js';
import { packBundle } from '#core/bundle/pack.js';
import { releaseName } from '#core/bundle/release-name.js';
import { BundleRefused, scanBundle } from '#core/bundle/unpack.js';
import { unpackLocal } from '#core/bundle/unpack-local.js';
import { matchingReleases } from '#core/release/switch.js';
import { gnuTar, rawTarGz, sha256sum, writeTree, type RawEntry } from '../support/bundles.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'bundle-test-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
const fresh = (name = 'd') => {
  const dir = join(root, `${name}-${++counter}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

const MTIME = new Date('2026-11-23T08:00:00Z');
const app = {
  'public/index.php': '<?php echo "hi";\n',
  artisan: '#!/usr/bin/env php\n',
  'vendor/autoload.php': '<?php\n',
  'storage/logs/': '',
  'storage/logs/laravel.log': 'debug noise\n',
  '.env': 'APP_KEY=base64:secret\n',
  'a/b/c/d.txt': 'deep\n',
};

describe('SHA-256 of a file', () => {
  it('matches the sha256sum binary for empty, small, and multi-buffer files', async () => {
    const dir = fresh();
    const sizes = [0, 1, 4 * 1024 * 1024, 9 * 1024 * 1024 + 7];
    for (const size of sizes) {
      const path = join(dir, `f${size}`);
      writeFileSync(path, Buffer.alloc(size, size % 251));
      const digest = await sha256File(path);
      expect(digest).toEqual({ sha256: sha256sum(path), size });
    }
  });
});

describe('checksum files', () => {
  const sha = 'ab'.repeat(32);
  it('reads sha256sum (text and binary mode) and BSD lines, picking the line naming the bundle', () => {
    const text = `${'cd'.repeat(32)}  other.tar.gz\n${sha} *deployment-bundle-x.tar.gz\n`;
    expect(checksumFor(text, '/tmp/dl/deployment-bundle-x.tar.gz')).toEqual({
      sha256: sha,
      name: 'deployment-bundle-x.tar.gz',
      format: 'sha256sum',
    });
    expect(
      checksumFor(`SHA256 (deployment-bundle-x.tar.gz) = ${sha.toUpperCase()}\n`, 'deployment-bundle-x.tar.gz'),
    ).toEqual({ sha256: sha, name: 'deployment-bundle-x.tar.gz', format: 'bsd' });
    // The line used must name the bundle: a one-line file for another name is refused, with the fix.
    expect(() => checksumFor(`${sha}  renamed.tar.gz`, 'bundle.tar.gz')).toThrow(
      /none of its lines names bundle\.tar\.gz \(it names renamed\.tar\.gz\); pass the \.sha256 written for this bundle, or its digest alone as expected-sha256/,
    );
    expect(() => checksumFor(`${sha}  a.tar.gz\n${sha}  b.tar.gz\n`, 'bundle.tar.gz')).toThrow(
      /none of its 2 lines names bundle.tar.gz/,
    );
    expect(() => checksumFor('not a checksum', 'bundle.tar.gz')).toThrow(/line 1 is neither/);
    // Every non-empty line must parse, even when a valid line names the bundle.
    expect(() => checksumFor(`${sha}  bundle.tar.gz\ngarbage here\n`, 'bundle.tar.gz')).toThrow(
      /line 2 is neither .*; every non-empty line must be a checksum line/,
    );
    expect(parseChecksumFile(`# comment\n\n${sha}  x\n`).lines).toHaveLength(1);
  });

  it('writes what `sha256sum -c` accepts, and reads what the sha256sum and openssl binaries write', () => {
    const dir = fresh();
    const file = join(dir, 'bundle.tar.gz');
    writeFileSync(file, 'bytes');
    const actual = sha256sum(file);
    writeFileSync(join(dir, 'ours.sha256'), formatChecksumLine(actual, 'bundle.tar.gz'));
    expect(execFileSync('sha256sum', ['-c', 'ours.sha256'], { cwd: dir, encoding: 'utf8' })).toBe(
      'bundle.tar.gz: OK\n',
    );
    const gnu = execFileSync('sha256sum', ['bundle.tar.gz'], { cwd: dir, encoding: 'utf8' });
    const bsd = execFileSync('sha256sum', ['--tag', 'bundle.tar.gz'], { cwd: dir, encoding: 'utf8' });
    expect(checksumFor(gnu, file)).toMatchObject({ sha256: actual, format: 'sha256sum' });
    expect(checksumFor(bsd, file)).toMatchObject({ sha256: actual, format: 'bsd' });
  });
});

describe('release names', () => {
  it('are <YYYYMMDD_HHMMSS>-<sha8> in UTC, which release-switch prunes as releases', () => {
    const name = releaseName('62584375aa1b2c3d4e5f60718293a4b5c6d7e8f9', new Date('2026-11-23T17:04:05Z'));
    expect(name).toBe('20261123_170405-62584375');
    expect(matchingReleases([name, '.incoming-x'])).toEqual([name]);
  });
});

describe('pack-bundle core', () => {
  it("packs the same tree twice into identical bytes, whatever the files' times, owners and umask-dependent modes", async () => {
    const src = fresh('src');
    writeTree(src, app);
    chmodSync(join(src, 'artisan'), 0o775);
    chmodSync(join(src, 'public/index.php'), 0o664);
    symlinkSync('public/index.php', join(src, 'index-link'));
    const first = await packBundle({
      dir: src,
      name: 'deployment-bundle-x',
      exclude: ['storage/logs/*.log', '.env'],
      outputDir: fresh('out'),
      mtime: MTIME,
    });
    // Touch everything and change group-write bits: nothing of that may reach the archive.
    for (const path of ['public/index.php', 'artisan', 'vendor/autoload.php', 'a/b/c/d.txt'])
      utimesSync(join(src, path), new Date(), new Date());
    chmodSync(join(src, 'public/index.php'), 0o644);
    chmodSync(join(src, 'artisan'), 0o755);
    const second = await packBundle({
      dir: src,
      name: 'deployment-bundle-x',
      exclude: ['storage/logs/*.log', '.env'],
      outputDir: fresh('out'),
      mtime: MTIME,
    });
    expect(readFileSync(second.bundlePath).equals(readFileSync(first.bundlePath))).toBe(true);
    expect(second.sha256).toBe(first.sha256);
    expect(first.sha256).toBe(sha256sum(first.bundlePath));
    expect(readFileSync(first.checksumPath, 'utf8')).toBe(`${first.sha256}  deployment-bundle-x.tar.gz\n`);
    expect(
      execFileSync('sha256sum', ['-c', 'deployment-bundle-x.tar.gz.sha256'], {
        cwd: join(first.bundlePath, '..'),
        encoding: 'utf8',
      }),
    ).toContain('OK');

    // GNU tar reads it: sorted, normalised, one mtime, excluded paths left out.
    const listing = execFileSync('tar', ['--numeric-owner', '-tvzf', first.bundlePath], { encoding: 'utf8' })
      .trim()
      .split('\n');
    const paths = listing.map((line) => line.split(/\s+/).slice(5).join(' '));
    expect(paths).toEqual([
      'a/',
      'a/b/',
      'a/b/c/',
      'a/b/c/d.txt',
      'artisan',
      'index-link -> public/index.php',
      'public/',
      'public/index.php',
      'storage/',
      'storage/logs/',
      'vendor/',
      'vendor/autoload.php',
    ]);
    expect(first.files).toBe(12);
    const line = (path: string) => listing[paths.indexOf(path)]!;
    expect(line('artisan')).toMatch(/^-rwxr-xr-x 0\/0 .* 2026-11-23 08:00 artisan$/);
    expect(line('public/index.php')).toMatch(/^-rw-r--r-- 0\/0 .* 2026-11-23 08:00 public\/index.php$/);
    expect(line('public/')).toMatch(/^drwxr-xr-x 0\/0 .* 2026-11-23 08:00 public\/$/);
    // One mtime for every entry, directories and links included.
    for (const entry of listing) expect(entry).toContain(' 2026-11-23 08:00 ');
    // The gzip header holds no name and no time.
    const gz = readFileSync(first.bundlePath);
    expect(gz.readUInt32LE(4)).toBe(0);
    expect(gz[3]! & 0x08).toBe(0);
  });

  it('packs any name — @scope, a leading dash, spaces, unicode, long paths — and verify unpacks it exactly', async () => {
    const src = fresh('src');
    const names = [
      '@scope/pkg/index.js',
      '-rf',
      '--help',
      'with space.txt',
      'ünïcødé/文件.txt',
      `${'l'.repeat(200)}/${'m'.repeat(120)}.js`,
    ];
    writeTree(src, Object.fromEntries(names.map((name) => [name, name])));
    const packed = await packBundle({ dir: src, name: 'b', exclude: [], outputDir: fresh('out'), mtime: MTIME });
    const listed = execFileSync('tar', ['-tzf', packed.bundlePath], { encoding: 'utf8' }).split('\n');
    for (const name of names) expect(listed).toContain(name);
    const releases = join(fresh('root'), 'releases');
    const dir = await unpackLocal(packed.bundlePath, releases, '20261123_080000-62584375', 2 ** 31);
    for (const name of names) expect(readFileSync(join(dir, name), 'utf8')).toBe(name);
  });

  it('refuses a name with a control character, naming it, and writes nothing', async () => {
    const src = fresh('src');
    writeTree(src, { 'ok.txt': 'x', 'bad\nname': 'x' });
    const out = fresh('out');
    await expect(packBundle({ dir: src, name: 'b', exclude: [], outputDir: out, mtime: MTIME })).rejects.toThrow(
      /"bad\\nname" has a control character/,
    );
    expect(readdirSync(out)).toEqual([]);
  });

  it('never packs its own output when output-dir is inside the packed tree', async () => {
    const src = fresh('src');
    writeTree(src, { 'index.html': 'x' });
    const packed = await packBundle({ dir: src, name: 'b', exclude: [], outputDir: src, mtime: MTIME });
    expect(execFileSync('tar', ['-tzf', packed.bundlePath], { encoding: 'utf8' })).toBe('index.html\n');
  });
});

/** The bundle at `path`, refused: the error names the entry, and extract-to holds nothing afterwards. */
async function expectRefused(bundle: string, entry: string | undefined, reason: RegExp, maxSize = 1024 * 1024) {
  const error = await scanBundle(bundle, maxSize).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BundleRefused);
  const refused = error as BundleRefused;
  expect(refused.entry).toBe(entry);
  expect(refused.message).toMatch(reason);
  if (entry !== undefined) expect(refused.message).toContain(JSON.stringify(entry));
}

describe('hostile archives are refused with the entry named', () => {
  const cases: [string, RawEntry[], string, RegExp][] = [
    [
      'an absolute path',
      [
        { path: 'ok.txt', body: 'x' },
        { path: '/etc/cron.d/evil', body: 'x' },
      ],
      '/etc/cron.d/evil',
      /absolute path/,
    ],
    ['a ".." segment', [{ path: 'a/../../escape.txt', body: 'x' }], 'a/../../escape.txt', /"\.\." segment/],
    ['a ".." segment that stays inside', [{ path: 'a/../b.txt', body: 'x' }], 'a/../b.txt', /"\.\." segment/],
    [
      'a symlink to an absolute path',
      [{ path: 'passwd', type: 'SymbolicLink', linkpath: '/etc/passwd' }],
      'passwd',
      /symlink to the absolute path "\/etc\/passwd"/,
    ],
    [
      'a symlink climbing out',
      [
        { path: 'a/', type: 'Directory' },
        { path: 'a/up', type: 'SymbolicLink', linkpath: '../../etc' },
      ],
      'a/up',
      /symlink to "\.\.\/\.\.\/etc", outside/,
    ],
    [
      'a file written through a symlink of the archive',
      [
        { path: 'dir', type: 'SymbolicLink', linkpath: '.' },
        { path: 'dir/x', type: 'SymbolicLink', linkpath: '../out' },
      ],
      'dir/x',
      /through the symlink "dir"/,
    ],
    [
      'a hard link to an absolute path',
      [{ path: 'shadow', type: 'Link', linkpath: '/etc/shadow' }],
      'shadow',
      /hard link to the absolute path/,
    ],
    [
      'a hard link climbing out',
      [{ path: 'h', type: 'Link', linkpath: '../../etc/shadow' }],
      'h',
      /hard link to "\.\.\/\.\.\/etc\/shadow", outside/,
    ],
    ['a character device', [{ path: 'null', type: 'CharacterDevice' }], 'null', /character device/],
    ['a block device', [{ path: 'sda', type: 'BlockDevice' }], 'sda', /block device/],
    ['a FIFO', [{ path: 'pipe', type: 'FIFO' }], 'pipe', /a FIFO/],
    [
      'an entry whose header size is over max-size',
      [
        { path: 'small', body: 'x' },
        { path: 'big.bin', body: Buffer.alloc(2 * 1024 * 1024) },
      ],
      'big.bin',
      /over max-size \(1048576 bytes\)/,
    ],
  ];
  it.each(cases)('%s (raw headers)', async (_name, entries, entry, reason) => {
    const dir = fresh();
    const bundle = join(dir, 'hostile.tar.gz');
    writeFileSync(bundle, rawTarGz(entries));
    await expectRefused(bundle, entry, reason);
    // Unpacking goes the same way: it never starts.
    expect(readdirSync(dir)).toEqual(['hostile.tar.gz']);
  });

  it('an archive whose gunzipped bytes exceed max-size even though its entries are small (a gzip bomb)', async () => {
    const dir = fresh();
    const bundle = join(dir, 'bomb.tar.gz');
    writeFileSync(bundle, rawTarGz([{ path: 'tiny.txt', body: 'x' }], 4 * 1024 * 1024));
    expect(readFileSync(bundle).length).toBeLessThan(64 * 1024);
    await expectRefused(bundle, 'tiny.txt', /over max-size \(1048576 bytes\) uncompressed \(gunzip yields more/);
  });

  it('made by GNU tar: -P absolute, --transform to "..", symlinks and hard links out, a FIFO, a device', async () => {
    const dir = fresh();
    const src = join(dir, 'src');
    writeTree(src, { 'app/index.php': 'x', 'app/secret': 's' });
    const abs = join(dir, 'abs.tar.gz');
    gnuTar(src, ['-czPf', abs, join(src, 'app/index.php')]);
    await expectRefused(abs, join(src, 'app/index.php'), /absolute path/);

    const dotdot = join(dir, 'dotdot.tar.gz');
    gnuTar(src, ['-czf', dotdot, '--transform', 's,^app/,../../,', 'app/index.php']);
    await expectRefused(dotdot, '../../index.php', /"\.\." segment/);

    symlinkSync('/etc/passwd', join(src, 'app/passwd'));
    const link = join(dir, 'link.tar.gz');
    gnuTar(src, ['-czf', link, 'app/index.php', 'app/passwd']);
    await expectRefused(link, 'app/passwd', /symlink to the absolute path "\/etc\/passwd"/);

    const hard = join(dir, 'hard.tar.gz');
    gnuTar(src, [
      '-czf',
      hard,
      'app/secret',
      '--hard-dereference',
      '--transform',
      's,^app/secret$,../secret,',
      '-h',
      'app/secret',
    ]);
    // Two entries for app/secret: the second is renamed to ../secret (a hard link to the first, or a file): refused either way.
    await expectRefused(hard, '../secret', /"\.\." segment/);

    execFileSync('mkfifo', [join(src, 'app/fifo')]);
    const fifo = join(dir, 'fifo.tar.gz');
    gnuTar(src, ['-czf', fifo, 'app/index.php', 'app/fifo']);
    await expectRefused(fifo, 'app/fifo', /a FIFO/);

    if (process.getuid?.() === 0) {
      execFileSync('mknod', [join(src, 'app/null'), 'c', '1', '3']);
      const device = join(dir, 'device.tar.gz');
      gnuTar(src, ['-czf', device, 'app/null']);
      await expectRefused(device, 'app/null', /character device/);
    }
  });

  it('refuses a file that is not a tar.gz, and an empty archive', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'junk.tar.gz'), 'not gzip at all');
    await expectRefused(join(dir, 'junk.tar.gz'), undefined, /could not be read/);
    writeFileSync(join(dir, 'empty.tar.gz'), rawTarGz([]));
    await expectRefused(join(dir, 'empty.tar.gz'), undefined, /no entries|could not be read/);
  });
});

describe('unpacking on this machine', () => {
  it('unpacks into <extract-to>/<release> through a temporary directory, keeping links inside the release', async () => {
    const src = fresh('src');
    writeTree(src, app);
    chmodSync(join(src, 'artisan'), 0o755);
    symlinkSync('../public/index.php', join(src, 'a/index-link'));
    const packed = await packBundle({ dir: src, name: 'b', exclude: [], outputDir: fresh('out'), mtime: MTIME });
    const releases = join(fresh('root'), 'releases');
    const scan = await scanBundle(packed.bundlePath, 2 ** 31);
    expect(scan.entries).toBe(packed.files);
    const dir = await unpackLocal(packed.bundlePath, releases, '20261123_080000-62584375', 2 ** 31);
    expect(dir).toBe(join(releases, '20261123_080000-62584375'));
    expect(readdirSync(releases)).toEqual(['20261123_080000-62584375']);
    expect(readFileSync(join(dir, 'public/index.php'), 'utf8')).toBe(app['public/index.php']);
    expect(readlinkSync(join(dir, 'a/index-link'))).toBe('../public/index.php');
    expect(lstatSync(join(dir, 'artisan')).mode & 0o777).toBe(0o755);
    expect(lstatSync(dir).mode & 0o777).toBe(0o755);

    // A release that exists is never overwritten, and nothing is left beside it.
    writeFileSync(join(dir, 'marker'), 'kept');
    await expect(unpackLocal(packed.bundlePath, releases, '20261123_080000-62584375', 2 ** 31)).rejects.toThrow(
      /already exists; a release is never overwritten/,
    );
    expect(readFileSync(join(dir, 'marker'), 'utf8')).toBe('kept');
    expect(readdirSync(releases)).toEqual(['20261123_080000-62584375']);
    expect(existsSync(join(dir, 'public/index.php'))).toBe(true);
  });
});
