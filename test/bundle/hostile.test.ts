import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { verifyBundle, type VerifyConfig } from '#core/bundle/verify.js';
import { ReleaseTree } from '#core/bundle/release-tree.js';
import { readBundle } from '#core/bundle/unpack.js';
import { LocalSink, commitLocal, unpackLocal } from '#core/bundle/unpack-local.js';
import { coreContext } from '#core/context.js';
import type { Target } from '#core/hosts/target.js';
import { sha256sum } from '../support/bundles.js';
import { paxRecord, rawArchive, rawBody, rawFile, rawHeader, rawPax } from '../support/raw-tar.js';
import { targetKinds } from '../support/targets.js';

/**
 * Archives built from raw header bytes, each a way two tar parsers can disagree or a way to land something unsafe,
 * verified on this machine and on a host over ssh: refused with the entry named, or (for modes and odd names)
 * unpacked exactly as checked. Nothing is ever left in extract-to by a refusal.
 */
const RELEASE = '20261123_170405-62584375';
const GNU = { magic: 'ustar ', version: ' \0' };

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), `bundle-hostile-${process.pid}-`));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function bundleFile(bytes: Buffer): string {
  const path = join(root, `b-${++counter}.tar.gz`);
  writeFileSync(path, bytes);
  return path;
}

/** The PAX trick of the issue: one record to GNU tar (and here), two to a parser that splits records at newlines. */
const paxTrick = rawArchive(
  rawPax(paxRecord('comment', `x\n${paxRecord('size', '2048').trimEnd()}`)),
  rawFile('index.php', '<?php echo "checked";\n'),
  rawHeader({ name: 'dev/sda', type: '4' }),
  rawFile('index.php', '<?php evil();\n', 0o4755),
);

const cases: [string, Buffer, string | undefined, RegExp][] = [
  [
    'a PAX comment hiding a size record (the entries after it are read, as GNU tar reads them)',
    paxTrick,
    'dev/sda',
    /is a block device/,
  ],
  [
    'an old-GNU sparse entry (type S)',
    rawArchive(
      rawHeader({
        name: 'sparse',
        type: 'S',
        size: 0,
        ...GNU,
        patch: { offset: 386, bytes: Buffer.from('00000000001\0') },
      }),
    ),
    'sparse',
    /is an old-GNU sparse file/,
  ],
  [
    'a ustar header whose version is not "00", with a prefix',
    rawArchive(rawHeader({ name: 'passwd', type: '0', version: '01', prefix: 'etc' })),
    'etc/passwd',
    /unknown format/,
  ],
  [
    'a PAX header over 1 MiB',
    rawArchive(rawPax(paxRecord('comment', 'y'.repeat(1024 * 1024 + 10))), rawFile('a.txt', 'a')),
    'PaxHeader',
    /x header of \d+ bytes \(over 1048576\)/,
  ],
  [
    'a PAX header with GNU.sparse.name',
    rawArchive(
      rawPax(paxRecord('GNU.sparse.name', 'real.bin') + paxRecord('GNU.sparse.major', '1')),
      rawFile('a.txt', 'a'),
    ),
    'PaxHeader',
    /PAX key "GNU\.sparse\.name"/,
  ],
  [
    'a PAX header and a GNU long name for one entry (x then L)',
    rawArchive(
      rawPax(paxRecord('path', 'a.txt')),
      rawHeader({ name: '././@LongLink', type: 'L', size: 6, ...GNU }),
      rawBody('b.txt\0'),
      rawFile('c.txt', 'c'),
    ),
    'a.txt',
    /GNU long name after a PAX header/,
  ],
  [
    'a GNU long name then a PAX header (L then x)',
    rawArchive(
      rawHeader({ name: '././@LongLink', type: 'L', size: 6, ...GNU }),
      rawBody('b.txt\0'),
      rawPax(paxRecord('path', 'a.txt')),
      rawFile('c.txt', 'c'),
    ),
    'b.txt',
    /PAX header after a GNU long name/,
  ],
  ['a contiguous file (type 7)', rawArchive(rawHeader({ name: 'c', type: '7' })), 'c', /is a contiguous file/],
  ['a FIFO', rawArchive(rawHeader({ name: 'fifo', type: '6' })), 'fifo', /is a FIFO/],
  ['a character device', rawArchive(rawHeader({ name: 'null', type: '3' })), 'null', /is a character device/],
  ['an unknown type', rawArchive(rawHeader({ name: 'q', type: 'Q' })), 'q', /unknown type "Q"/],
  [
    'a global PAX header',
    rawArchive(rawHeader({ name: 'g', type: 'g', size: 0 }), rawFile('a', 'a')),
    'g',
    /global PAX/,
  ],
  [
    'a header with a wrong checksum',
    rawArchive(rawHeader({ name: 'bad', type: '0', badChecksum: true })),
    'bad',
    /checksum is wrong/,
  ],
  [
    'a lone zero block before more entries',
    gzipTar(rawFile('a.txt', 'a'), Buffer.alloc(512), rawFile('hidden.txt', 'h')),
    undefined,
    /lone zero block/,
  ],
  [
    'the same path twice (the second would replace what was checked)',
    rawArchive(rawFile('index.php', 'one'), rawFile('index.php', 'two')),
    'index.php',
    /appears twice/,
  ],
  [
    'a symlink chain out of the release (links resolved before the links they go through are defined)',
    rawArchive(
      rawHeader({ name: 'l1', type: '2', linkname: 'l0/..' }),
      rawHeader({ name: 'l0', type: '2', linkname: 'a/..' }),
      rawHeader({ name: 'a', type: '2', linkname: '.' }),
      rawHeader({ name: 'passwd', type: '2', linkname: 'l1/etc/passwd' }),
    ),
    'l1',
    /symlink to "l0\/\.\.", outside the release/,
  ],
  [
    '".." after a link (inside when read as text, outside when resolved)',
    rawArchive(
      rawHeader({ name: 'd/', type: '5' }),
      rawHeader({ name: 'd/l', type: '2', linkname: '..' }),
      rawHeader({ name: 'd/m', type: '2', linkname: 'l/..' }),
    ),
    'd/m',
    /symlink to "l\/\.\.", outside the release/,
  ],
  [
    'a symlink loop',
    rawArchive(rawHeader({ name: 'x', type: '2', linkname: 'y' }), rawHeader({ name: 'y', type: '2', linkname: 'x' })),
    'x',
    /loops/,
  ],
  [
    'a hard link to an entry that is not there',
    rawArchive(rawFile('ok.txt', 'x'), rawHeader({ name: 'h', type: '1', linkname: 'missing.txt' })),
    'h',
    /not a regular file earlier in the archive/,
  ],
  [
    'a directory entry with contents (a size some parsers skip and others read)',
    rawArchive(rawHeader({ name: 'd/', type: '5', size: 512 }), rawBody(rawFile('x', 'x'))),
    'd/',
    /is a dir with a size/,
  ],
];

/** Blocks gzipped as they are (no end-of-archive marker added). */
function gzipTar(...parts: Buffer[]): Buffer {
  return gzipSync(Buffer.concat(parts));
}

const config = (bundle: string, releases: string, overrides: Partial<VerifyConfig> = {}): VerifyConfig => ({
  source: { kind: 'file', path: bundle },
  expectedSha256: sha256sum(bundle),
  extractTo: releases,
  releaseName: RELEASE,
  maxSize: 64 * 1024 * 1024,
  ...overrides,
});

it('the PAX trick is read as GNU tar reads it: the entries after the comment are real entries', () => {
  const listing = execFileSync('tar', ['-tzf', '-'], { input: paxTrick, encoding: 'utf8' });
  expect(listing.split('\n')).toEqual(['index.php', 'dev/sda', 'index.php', '']);
});

describe.each(targetKinds)('on the $name target', (kind) => {
  let target: Target;
  beforeAll(async () => {
    target = await kind.setup();
  });
  afterAll(() => kind.teardown());

  it.each(cases)('refuses %s, naming the entry; nothing lands in extract-to', async (_title, bytes, entry, reason) => {
    const releases = join(root, `releases-${++counter}`);
    mkdirSync(releases);
    const outcome = await verifyBundle(target, config(bundleFile(bytes), releases), coreContext());
    expect(outcome.ok).toBe(false);
    expect(outcome.failure).toMatch(reason);
    if (entry !== undefined) expect(outcome.failure).toContain(`entry ${JSON.stringify(entry)}`);
    expect(outcome.results.map((result) => [result.name, result.status])).toEqual([
      ['Checksum', 'pass'],
      ['Entries', 'fail'],
    ]);
    expect(readdirSync(releases)).toEqual([]);
  });

  it('normalises modes: no setuid/setgid/sticky, nothing group- or world-writable, owned by the unpacking user', async () => {
    const releases = join(root, `releases-${++counter}`);
    const bundle = bundleFile(
      rawArchive(
        rawHeader({ name: 'sticky/', type: '5', mode: 0o1777, uid: 1234 }),
        rawFile('sticky/setgid', '#!/bin/sh\n', 0o2777),
        rawFile('setuid', '#!/bin/sh\n', 0o4755),
        rawFile('world.txt', 'w', 0o666),
        rawHeader({ name: 'link', type: '2', linkname: 'world.txt' }),
      ),
    );
    const outcome = await verifyBundle(target, config(bundle, releases), coreContext());
    expect(outcome.failure).toBeUndefined();
    const dir = join(releases, RELEASE);
    const modes = Object.fromEntries(
      ['', 'sticky', 'sticky/setgid', 'setuid', 'world.txt'].map((path) => {
        const stat = lstatSync(join(dir, path));
        return [path, [(stat.mode & 0o7777).toString(8), stat.uid === process.getuid!()]];
      }),
    );
    expect(modes).toEqual({
      '': ['755', true],
      sticky: ['755', true],
      'sticky/setgid': ['755', true],
      setuid: ['755', true],
      'world.txt': ['644', true],
    });
    expect(readlinkSync(join(dir, 'link'))).toBe('world.txt');
  });

  it('unpacks any name exactly: @scope, a leading dash, spaces, unicode, a path over 100 and over 255 bytes', async () => {
    const releases = join(root, `releases-${++counter}`);
    const long = `${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(90)}.txt`;
    const names = [
      '@scope/pkg/index.js',
      '-rf',
      'with space.txt',
      'ünïcødé/文件.txt',
      `${'p'.repeat(120)}/x.txt`,
      long,
    ];
    const bundle = bundleFile(
      rawArchive(
        ...names.slice(0, 4).map((name) => rawFile(name, name)),
        rawHeader({ name: 'x.txt', type: '0', size: names[4]!.length, prefix: 'p'.repeat(120) }),
        rawBody(names[4]!),
        rawPax(paxRecord('path', long)),
        rawFile('ignored-name', long),
      ),
    );
    const outcome = await verifyBundle(target, config(bundle, releases), coreContext());
    expect(outcome.failure).toBeUndefined();
    for (const name of names) expect(readFileSync(join(releases, RELEASE, name), 'utf8')).toBe(name);
    expect(existsSync(join(releases, RELEASE, 'ignored-name'))).toBe(false);
  });
});

describe('a host whose unpacking differs from the check (the host-side manifest and realpath checks)', () => {
  const kind = targetKinds.find((candidate) => candidate.name === 'ssh')!;
  let target: Target;
  beforeAll(async () => {
    target = await kind.setup();
  });
  afterAll(() => kind.teardown());

  /** A host whose tar adds `extra` (shell) after unpacking: what a tar that parses differently would do. */
  const hostWith = (extra: string): Target => ({
    description: target.description,
    run: (script, options) => target.run(script.replace(/(tar -xzf "\$file" -C "\$t"[^\n]*)/, `$1\n${extra}`), options),
    close: () => target.close(),
  });
  const bundle = () =>
    bundleFile(rawArchive(rawFile('index.php', '<?php echo "checked";\n'), rawHeader({ name: 'public/', type: '5' })));

  it('a file with other contents: refused naming it, the temporary directory removed', async () => {
    const releases = join(root, `releases-${++counter}`);
    mkdirSync(releases);
    const host = hostWith(`printf 'evil' > "$t/r/index.php"`);
    const outcome = await verifyBundle(host, config(bundle(), releases), coreContext());
    expect(outcome.ok).toBe(false);
    expect(outcome.failure).toMatch(/^Bundle refused: entry "index\.php" differs on ssh:\/\/.* from what was checked/);
    expect(outcome.results.at(-1)).toMatchObject({ name: 'Unpack', status: 'fail' });
    expect(readdirSync(releases)).toEqual([]);
  });

  it('an extra device, an extra link to /etc and a setuid bit: each refused by the manifest', async () => {
    for (const [extra, entry] of [
      ['mkfifo "$t/r/public/fifo"', 'public/fifo'],
      ['ln -s /etc "$t/r/etc"', 'etc'],
      ['chmod 4755 "$t/r/index.php"', 'index.php'],
    ]) {
      const releases = join(root, `releases-${++counter}`);
      mkdirSync(releases);
      const outcome = await verifyBundle(hostWith(extra!), config(bundle(), releases), coreContext());
      expect(outcome.failure).toContain(`entry ${JSON.stringify(entry)} differs`);
      expect(readdirSync(releases)).toEqual([]);
    }
  });

  it('a link that escapes on disk although the manifest matches: refused by the realpath check', async () => {
    const releases = join(root, `releases-${++counter}`);
    mkdirSync(releases);
    const host = hostWith(`ln -s / "$t/r/root" && printf 'root\\tl\\t/\\n' >> "$t/m" && sort -o "$t/m" "$t/m"`);
    const outcome = await verifyBundle(host, config(bundle(), releases), coreContext());
    expect(outcome.failure).toMatch(/^Bundle refused: entry "root" resolves on ssh:\/\/\S+ to \/, outside the release/);
    expect(readdirSync(releases)).toEqual([]);
  });
});

describe('on this machine, what was read is what lands', () => {
  it('a bundle swapped after its first open: the bytes hashed and unpacked are the original ones', async () => {
    const good = rawArchive(rawFile('index.php', '<?php echo "checked";\n'));
    const evil = bundleFile(rawArchive(rawFile('index.php', '<?php evil();\n')));
    const path = bundleFile(good);
    const releases = join(root, `releases-${++counter}`);
    const temp = join(releases, '.incoming-test');
    mkdirSync(temp, { recursive: true });
    const local = new LocalSink(temp);
    let swapped = false;
    const read = await readBundle(path, 1 << 20, {
      entry: async (entry, parents) => {
        if (!swapped) renameSync(evil, path); // the path now names another file
        swapped = true;
        await local.entry(entry, parents);
      },
      data: (chunk) => local.data(chunk),
      endFile: () => local.endFile(),
    });
    expect(swapped).toBe(true);
    expect(read.sha256).toBe(createHashOf(good));
    expect(read.sha256).not.toBe(sha256sum(path));
    const dir = await commitLocal(temp, read.tree, releases, RELEASE);
    read.tree.close();
    expect(readFileSync(join(dir, 'index.php'), 'utf8')).toBe('<?php echo "checked";\n');
  });

  it('creates nothing in extract-to before the bytes are judged: no releases directory, no temporary directory', async () => {
    const path = bundleFile(rawArchive(rawFile('index.php', 'checked')));
    const parent = join(root, `fresh-${++counter}`);
    mkdirSync(parent);
    const releases = join(parent, 'a', 'releases');
    const whenJudged: string[][] = [];
    const mismatch = () => {
      whenJudged.push(readdirSync(parent));
      throw new Error('SHA-256 mismatch');
    };
    await expect(unpackLocal(path, releases, RELEASE, 1 << 20, mismatch)).rejects.toThrow('SHA-256 mismatch');
    expect(whenJudged).toEqual([[]]);
    expect(readdirSync(parent)).toEqual([]);

    mkdirSync(releases, { recursive: true });
    const inReleases: string[][] = [];
    const dir = await unpackLocal(path, releases, RELEASE, 1 << 20, (read) => {
      inReleases.push(readdirSync(releases));
      if (read.refusal) throw read.refusal;
    });
    expect(inReleases).toEqual([[]]);
    expect(readdirSync(releases)).toEqual([RELEASE]);
    expect(readFileSync(join(dir, 'index.php'), 'utf8')).toBe('checked');
  });

  it('a directory changed between unpacking and the rename is refused, naming the entry', async () => {
    const path = bundleFile(rawArchive(rawFile('index.php', 'checked'), rawFile('b.txt', 'b')));
    const releases = join(root, `releases-${++counter}`);
    const temp = join(releases, '.incoming-test');
    mkdirSync(temp, { recursive: true });
    const read = await readBundle(path, 1 << 20, new LocalSink(temp));
    writeFileSync(join(temp, 'index.php'), 'changed');
    await expect(commitLocal(temp, read.tree, releases, RELEASE)).rejects.toThrow(
      /entry "index\.php": the check accepted SHA-256 [0-9a-f]{64}, the unpacked directory holds SHA-256 [0-9a-f]{64}/,
    );
    read.tree.close();
    rmSync(join(temp, 'index.php'));
    execFileSync('ln', ['-s', '/', join(temp, 'index.php')]);
    // A tree that accepted that link (the reader never would): only the realpath check stands in the way.
    const accepted = new ReleaseTree();
    accepted.add({ path: 'b.txt', type: 'file', mode: 0o644, size: 1, mtime: 0 });
    accepted.setDigest('b.txt', createHash('sha256').update('b').digest());
    accepted.add({ path: 'index.php', type: 'symlink', mode: 0o777, size: 0, mtime: 0, linkpath: '/' });
    await expect(commitLocal(temp, accepted, releases, RELEASE)).rejects.toThrow(
      /entry "index\.php" resolves on disk to \/, outside the release/,
    );
    accepted.close();
    expect(existsSync(join(releases, RELEASE))).toBe(false);
  });
});

function createHashOf(bytes: Buffer): string {
  return execFileSync('sha256sum', { input: bytes, encoding: 'utf8' }).split(' ')[0]!;
}
