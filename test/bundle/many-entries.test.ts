import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { verifyBundle, type VerifyConfig } from '#core/bundle/verify.js';
import { TarWriter } from '#core/bundle/tar-writer.js';
import { coreContext } from '#core/context.js';
import type { Target } from '#core/hosts/target.js';
import { sha256sum } from '../support/bundles.js';
import { targetKinds } from '../support/targets.js';

/**
 * A release of 20,000 entries, verified and unpacked on this machine and over ssh: the accepted tree is kept on disk
 * (release-tree.ts), so this is where its lookups, duplicate refusal, symlink resolution across the whole archive and
 * the final comparison (a directory walk locally, a manifest on the host) meet a tree of real size.
 */
const RELEASE = '20261203_190000-17';
const FOLDERS = 950;

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), `bundle-many-${process.pid}-`));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Extra {
  path: string;
  type: 'file' | 'symlink';
  linkpath?: string;
}

/** 950 folders `pkg-<n>/lib` of 20 files, symlinks through symlinks defined later, then `extra` entries. */
async function bundle(name: string, extra: Extra[] = []): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const writer = new TarWriter(out);
  const mtime = 0;
  // `current/lib` goes through `current`, defined at the very end of the archive.
  await writer.header({ path: 'shortcut', type: 'symlink', mode: 0o777, size: 0, mtime, linkpath: 'current/lib' });
  for (let d = 0; d < FOLDERS; d++) {
    for (const path of [`pkg-${d}`, `pkg-${d}/lib`])
      await writer.header({ path, type: 'dir', mode: 0o755, size: 0, mtime });
    for (let f = 0; f < 20; f++)
      await writer.file(
        { path: `pkg-${d}/lib/f${f}.js`, mode: 0o644, mtime },
        Buffer.from(`module.exports = ${d}.${f};\n`),
      );
  }
  await writer.header({
    path: 'current',
    type: 'symlink',
    mode: 0o777,
    size: 0,
    mtime,
    linkpath: `pkg-${FOLDERS - 1}`,
  });
  for (const entry of extra)
    if (entry.type === 'symlink') await writer.header({ ...entry, mode: 0o777, size: 0, mtime });
    else await writer.file({ path: entry.path, mode: 0o644, mtime }, Buffer.from('later'));
  await writer.end();
  const path = join(root, `${name}.tar.gz`);
  writeFileSync(path, gzipSync(Buffer.concat(chunks)));
  return path;
}

const config = (path: string, releases: string): VerifyConfig => ({
  source: { kind: 'file', path },
  expectedSha256: sha256sum(path),
  extractTo: releases,
  releaseName: RELEASE,
  maxSize: 64 * 1024 * 1024,
});

describe.each(targetKinds)('20,000 entries on the $name target', (kind) => {
  let target: Target;
  beforeAll(async () => {
    target = await kind.setup();
  });
  afterAll(() => kind.teardown());

  it('verifies and unpacks every entry exactly as checked', async () => {
    const releases = join(root, `${kind.name}-ok`);
    mkdirSync(releases);
    const outcome = await verifyBundle(target, config(await bundle(`${kind.name}-ok`), releases), coreContext());
    expect(outcome.failure).toBeUndefined();
    expect(outcome.files).toBe(1 + FOLDERS * 22 + 1);
    const dir = join(releases, RELEASE);
    const found = execFileSync('find', ['.', '-mindepth', '1'], { cwd: dir, encoding: 'utf8' }).trim().split('\n');
    expect(found).toHaveLength(1 + FOLDERS * 22 + 1);
    expect(readFileSync(join(dir, 'pkg-517/lib/f13.js'), 'utf8')).toBe('module.exports = 517.13;\n');
    expect(readFileSync(join(dir, 'shortcut/f19.js'), 'utf8')).toBe(`module.exports = ${FOLDERS - 1}.19;\n`);
    expect(readlinkSync(join(dir, 'current'))).toBe(`pkg-${FOLDERS - 1}`);
  });

  it('refuses an entry repeated 20,000 entries later, naming it; nothing lands in extract-to', async () => {
    const releases = join(root, `${kind.name}-twice`);
    mkdirSync(releases);
    const path = await bundle(`${kind.name}-twice`, [{ path: 'pkg-3/lib/f7.js', type: 'file' }]);
    const outcome = await verifyBundle(target, config(path, releases), coreContext());
    expect(outcome.failure).toMatch(/entry "pkg-3\/lib\/f7\.js" appears twice/);
    expect(readdirSync(releases)).toEqual([]);
  });

  it('refuses a link out of the release through links spread over the archive; nothing lands in extract-to', async () => {
    const releases = join(root, `${kind.name}-out`);
    mkdirSync(releases);
    const path = await bundle(`${kind.name}-out`, [
      // current -> pkg-949; up -> current/.. = the release root; out -> up/.. = outside
      { path: 'up', type: 'symlink', linkpath: 'current/..' },
      { path: 'pkg-0/lib/out', type: 'symlink', linkpath: '../../up/../etc' },
    ]);
    const outcome = await verifyBundle(target, config(path, releases), coreContext());
    expect(outcome.failure).toMatch(
      /entry "pkg-0\/lib\/out" is a symlink to "\.\.\/\.\.\/up\/\.\.\/etc", outside the release/,
    );
    expect(readdirSync(releases)).toEqual([]);
  });
});
