import { createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { WriteEntry } from 'tar';
import { ArgumentError } from '../errors.js';
import { formatChecksumLine } from './checksum-file.js';
import { excluded, pathGlob } from '../units/glob.js';
import { sha256File } from './hash.js';

/**
 * A deterministic bundle: the same tree gives the same bytes, so the same SHA-256, wherever and whenever it is
 * packed. Entries are sorted by path (byte order), every entry carries the same mtime, no owner, group, user or
 * group name, atime or ctime, and a normalised mode (directories and owner-executable files 0755, other files 0644,
 * symlinks as links); the gzip header has no name, no time and a fixed OS byte.
 */
export interface PackConfig {
  /** The directory to pack; its contents are the archive's root (no leading folder). */
  dir: string;
  /** The bundle's name without `.tar.gz`. */
  name: string;
  /** Globs of paths to leave out (see glob.ts). */
  exclude: readonly string[];
  outputDir: string;
  /** The one modification time every entry carries. */
  mtime: Date;
}

export interface PackResult {
  bundlePath: string;
  checksumPath: string;
  sha256: string;
  size: number;
  /** Entries in the archive (files, directories, symlinks). */
  files: number;
  /** Paths left out by `exclude`, for the log (top-level ones only, a directory standing for its contents). */
  excluded: string[];
}

/** Paths below `root`, sorted (directories before their contents), without excluded ones. */
export async function bundleEntries(
  root: string,
  exclude: readonly RegExp[],
  skip: (path: string) => boolean = () => false,
): Promise<{ entries: string[]; excluded: string[] }> {
  const entries: string[] = [];
  const left: string[] = [];
  const walk = async (dir: string, prefix: string) => {
    const names = (await readdir(dir)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const path = prefix ? `${prefix}/${name}` : name;
      const full = join(dir, name);
      if (skip(full)) continue;
      if (excluded(path, exclude)) {
        left.push(path);
        continue;
      }
      const stat = await lstat(full);
      if (stat.isDirectory()) {
        entries.push(path);
        await walk(full, path);
      } else if (stat.isFile() || stat.isSymbolicLink()) entries.push(path);
      else
        throw new ArgumentError(
          'dir',
          `${path} is not a file, directory or symlink (a socket, FIFO or device); exclude it`,
        );
    }
  };
  await walk(root, '');
  return { entries, excluded: left };
}

function normaliseMode(entry: WriteEntry): void {
  const stat = entry.stat as { mode: number; isDirectory(): boolean; isSymbolicLink(): boolean } | undefined;
  if (!stat) return;
  const type = stat.mode & ~0o7777;
  const perms =
    stat.isDirectory() || stat.isSymbolicLink()
      ? stat.isSymbolicLink()
        ? 0o777
        : 0o755
      : stat.mode & 0o100
        ? 0o755
        : 0o644;
  stat.mode = type | perms;
}

export async function packBundle(config: PackConfig): Promise<PackResult> {
  const dir = resolve(config.dir);
  const stat = await lstat(dir).catch(() => undefined);
  if (!stat?.isDirectory())
    throw new ArgumentError('dir', `${config.dir} is not a directory; pass the folder the build produced`);
  if (!/^[A-Za-z0-9._+@-]+$/.test(config.name) || config.name.startsWith('.')) {
    throw new ArgumentError(
      'name',
      `"${config.name}" is not a file name (letters, digits and . _ + @ -, not starting with "."), e.g. deployment-bundle-{sha}`,
    );
  }
  const outputDir = resolve(config.outputDir);
  await mkdir(outputDir, { recursive: true });
  const bundlePath = join(outputDir, `${config.name}.tar.gz`);
  const checksumPath = `${bundlePath}.sha256`;
  // The output may be inside the packed tree (output-dir "."); the bundle never packs itself or its partial file.
  const ours = new Set([bundlePath, checksumPath]);
  const partial = join(outputDir, `.${config.name}.tar.gz.partial`);
  ours.add(partial);
  const { entries, excluded: left } = await bundleEntries(dir, config.exclude.map(pathGlob), (full) => ours.has(full));
  try {
    // node-tar is loaded when there is something to pack (a bad input fails without it).
    const { create: createTar } = await import('tar');
    const tar = createTar(
      {
        cwd: dir,
        gzip: { portable: true } as never,
        portable: true,
        mtime: config.mtime,
        noDirRecurse: true,
        follow: false,
        onWriteEntry: normaliseMode,
      },
      entries,
    );
    await pipeline(tar as unknown as NodeJS.ReadableStream, createWriteStream(partial, { mode: 0o644 }));
    await rename(partial, bundlePath);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  const { sha256, size } = await sha256File(bundlePath);
  await writeFile(checksumPath, formatChecksumLine(sha256, basename(bundlePath)));
  return { bundlePath, checksumPath, sha256, size, files: entries.length, excluded: left };
}
