import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BundleRefused } from '#core/bundle/refused.js';
import { ReleaseTree } from '#core/bundle/release-tree.js';
import type { TarEntry } from '#core/bundle/tar-reader.js';

// The accepted tree is kept in an SQLite file (tree-store.ts), not in memory: these tests pin what the rest of
// verify-bundle-sha relies on it for — duplicate refusal, lookups by path, symlinks in the archive's order, the
// manifest in byte order — and that its file goes away.

const temp = mkdtempSync(join(tmpdir(), `dg-tree-test-${process.pid}-`));
let savedTemp: string | undefined;
beforeAll(() => {
  savedTemp = process.env.RUNNER_TEMP;
  process.env.RUNNER_TEMP = temp;
});
afterAll(() => {
  if (savedTemp === undefined) delete process.env.RUNNER_TEMP;
  else process.env.RUNNER_TEMP = savedTemp;
  rmSync(temp, { recursive: true, force: true });
});

const file = (path: string, mode = 0o644, size = 1): TarEntry => ({ path, type: 'file', mode, size, mtime: 0 });
const dir = (path: string): TarEntry => ({ path, type: 'dir', mode: 0o700, size: 0, mtime: 0 });
const symlink = (path: string, linkpath: string): TarEntry => ({
  path,
  type: 'symlink',
  mode: 0o777,
  size: 0,
  mtime: 0,
  linkpath,
});
const sha = (text: string) => createHash('sha256').update(text).digest();

function tree(...entries: TarEntry[]): ReleaseTree {
  const made = new ReleaseTree();
  for (const entry of entries) {
    made.add(entry);
    if (entry.type === 'file') made.setDigest(entry.path, sha(entry.path));
  }
  return made;
}

function refusal(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(BundleRefused);
    return (error as Error).message;
  }
  throw new Error('not refused');
}

describe('the accepted tree (kept on disk)', () => {
  it('returns the directories a path implies, once, and nothing for a repeated directory', () => {
    const made = new ReleaseTree();
    expect(made.add(file('a/b/c.txt'))).toEqual(['a', 'a/b']);
    expect(made.add(file('a/b/d.txt'))).toEqual([]);
    expect(made.add(dir('a/b'))).toBeUndefined();
    expect(made.add(file('a/e/f.txt'))).toEqual(['a/e']);
    expect(made.size).toBe(6);
    made.close();
  });

  it('refuses a second entry with the same path, whatever came between', () => {
    const made = tree(file('index.php'), file('x/y.txt'), dir('x'));
    expect(refusal(() => made.add(file('index.php')))).toMatch(/entry "index\.php" appears twice/);
    expect(refusal(() => made.add(symlink('x', '.')))).toMatch(/entry "x" appears twice/);
    expect(refusal(() => made.add(dir('index.php')))).toMatch(/entry "index\.php" appears twice/);
    made.close();
  });

  it('refuses an entry through a symlink or a file of the archive, even after other directories were seen', () => {
    const made = tree(symlink('etc', '/tmp'), file('f'), file('d/1'), file('d/2'));
    expect(refusal(() => made.add(file('etc/passwd')))).toMatch(/goes through the symlink "etc"/);
    expect(refusal(() => made.add(file('f/g')))).toMatch(/goes through the file "f"/);
    made.close();
  });

  it('looks entries up by path: normalised mode, size, digest, link text; a hard link shares its target’s', () => {
    const made = tree(file('bin/run', 0o4775, 3), symlink('current', 'bin/run'));
    made.add({ path: 'alias', type: 'link', mode: 0, size: 0, mtime: 0, linkpath: 'bin/run' });
    expect(made.get('bin/run')).toEqual({ type: 'file', mode: 0o755, size: 3, sha256: sha('bin/run').toString('hex') });
    expect(made.get('alias')).toEqual(made.get('bin/run'));
    expect(made.get('current')).toMatchObject({ type: 'symlink', link: 'bin/run' });
    expect(made.get('bin')).toMatchObject({ type: 'dir', mode: 0o755 });
    expect(made.get('nothing')).toBeUndefined();
    expect(
      refusal(() => made.add({ path: 'h', type: 'link', mode: 0, size: 0, mtime: 0, linkpath: 'current' })),
    ).toMatch(/hard link to "current", which is not a regular file earlier/);
    made.close();
  });

  it('lists symlinks in the archive’s order and paths in UTF-8 byte order (as LC_ALL=C sort)', () => {
    const names = ['b', 'a.txt', 'a/b', 'ä', 'z', '\u{1f600}', '\uffe0', 'A'];
    const made = tree(symlink('z-link', 'b'), ...names.map((name) => file(name)), symlink('a-link', 'z'));
    expect([...made.symlinks()]).toEqual([
      ['z-link', 'b'],
      ['a-link', 'z'],
    ]);
    const expected = [...made.paths()].map((path) => Buffer.from(path));
    expect(expected.map(String)).toEqual(
      [...expected].sort(Buffer.compare).map(String), // byte order
    );
    expect([...made.paths()]).toEqual([
      'A',
      'a',
      'a-link',
      'a.txt',
      'a/b',
      'b',
      'z',
      'z-link',
      'ä',
      '\uffe0',
      '\u{1f600}',
    ]);
    made.close();
  });

  it('writes the manifest the host’s find | sort writes, in pieces', () => {
    const made = tree(file('b/x.sh', 0o755, 2), symlink('a', 'b'), dir('c'));
    const whole = [...made.manifest(1)];
    expect(whole).toHaveLength(4);
    expect(whole.join('')).toBe(
      [
        'a\tl\tb',
        'b\td\t755',
        'b/x.sh\tf\t755\t2',
        `b/x.sh\th\t${sha('b/x.sh').toString('hex')}`,
        'c\td\t755',
        '',
      ].join('\n'),
    );
    expect([...made.manifest()].join('')).toBe(whole.join(''));
    made.close();
  });

  it('holds 50,000 entries and finds each again; its file is removed on close', () => {
    const made = new ReleaseTree();
    for (let i = 0; i < 50_000; i++) made.add(file(`d${i % 97}/f${i}`));
    expect(made.size).toBe(50_000 + 97);
    for (const i of [0, 96, 97, 31_337, 49_999]) expect(made.get(`d${i % 97}/f${i}`)).toMatchObject({ type: 'file' });
    expect(made.get(`d${(49_999 + 1) % 97}/f49999`)).toBeUndefined();
    expect(made.get('d96')).toMatchObject({ type: 'dir' });
    expect(readdirSync(temp).filter((name) => name.startsWith('dg-tree-'))).toHaveLength(1);
    const stored = readdirSync(temp).find((name) => name.startsWith('dg-tree-'))!;
    made.close();
    expect(existsSync(join(temp, stored))).toBe(false);
  });
});
