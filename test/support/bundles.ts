import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';

/** One entry of a tar written byte by byte: any path, type and link target, whatever node-tar or GNU tar would allow. */
export interface RawEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO';
  linkpath?: string;
  body?: Buffer | string;
  /** The size written in the header (default: the body's). */
  size?: number;
  mode?: number;
}

/** A .tar.gz made of raw ustar headers (node-tar's Header encodes them), with `padding` zero bytes after the end. */
export function rawTarGz(entries: RawEntry[], padding = 0): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? '');
    const type = entry.type ?? 'File';
    const header = new Header({
      path: entry.path,
      type,
      linkpath: entry.linkpath,
      mode: entry.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      size: entry.size ?? (type === 'File' ? body.length : 0),
      mtime: new Date('2026-01-01T00:00:00Z'),
      uid: 0,
      gid: 0,
    });
    header.encode();
    blocks.push(header.block!);
    if (body.length > 0) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024), Buffer.alloc(padding));
  return gzipSync(Buffer.concat(blocks));
}

/** Writes files (path → content; a trailing `/` makes a directory) under `root`. */
export function writeTree(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    if (path.endsWith('/')) mkdirSync(join(root, path), { recursive: true });
    else {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
  }
}

/** The SHA-256 as the `sha256sum` binary computes it. */
export function sha256sum(path: string): string {
  return execFileSync('sha256sum', [path], { encoding: 'utf8' }).split(' ')[0]!;
}

/** Runs GNU tar with these arguments in `cwd`. */
export function gnuTar(cwd: string, args: string[]): void {
  execFileSync('tar', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}
