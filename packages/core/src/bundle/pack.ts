import {
  closeSync,
  constants,
  createWriteStream,
  lstatSync,
  openSync,
  readSync,
  readdirSync,
  readlinkSync,
} from 'node:fs';
import { lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, type ZlibOptions } from 'node:zlib';
import { ArgumentError } from '../errors.js';
import { formatChecksumLine } from './checksum-file.js';
import { excluded, pathGlob } from '../units/glob.js';
import { sha256File } from './hash.js';
import { compareUtf8 } from './release-tree.js';
import { normalMode } from './tar-format.js';
import { TarWriter } from './tar-writer.js';

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
  excluded: Excluded;
}

/** Refuses a name the strict reader would refuse (control characters), naming it (the partial bundle is removed). */
function checkName(path: string): void {
  if (/[\u0000-\u001f\u007f]/.test(path))
    throw new ArgumentError(
      'dir',
      `${JSON.stringify(path)} has a control character (newline, tab, …) in its name, which verify-bundle-sha refuses; rename or exclude it`,
    );
}

/** Appends a file's contents to the archive, read through one reused buffer; refuses a file that changed size. */
async function writeContents(full: string, path: string, size: number, writer: TarWriter, buffer: Buffer) {
  const fd = openSync(full, constants.O_RDONLY | constants.O_NOFOLLOW);
  let written = 0;
  try {
    for (let read; (read = readSync(fd, buffer, 0, buffer.length, null)) > 0;) {
      written += read;
      if (written > size) break;
      await writer.write(buffer.subarray(0, read));
    }
  } finally {
    closeSync(fd);
  }
  if (written !== size)
    throw new ArgumentError('dir', `${path} changed size while it was packed; pack a tree nothing writes to`);
  await writer.pad(size);
}

/** Paths left out by `exclude`: the first few (for the log) and how many. */
export interface Excluded {
  first: string[];
  count: number;
}

const EXCLUDED_KEPT = 20;

/**
 * Writes the tree below `root` as a tar stream with deploy-gates' own writer (tar-writer.ts), walking it in the
 * bundle's order (names sorted by bytes within each directory, a directory before its contents) and writing each
 * entry as it is reached: paths are data, never options (a name starting with `@` or `-` is just a name), and no
 * listing of the tree is held — only the sorted names of the directories on the current path, so memory does not
 * grow with the number of entries (only with the largest single directory). The file system calls are synchronous
 * (short calls on the build's own tree; one thread-pool round trip per lstat, open, read and close made packing
 * 30,000 entries take 20× GNU tar's time); gzip runs in the thread pool meanwhile. Returns the entries written.
 */
async function writeTree(
  root: string,
  filter: { exclude: readonly RegExp[]; skip: (full: string) => boolean; excluded: Excluded },
  writer: TarWriter,
  mtime: number,
): Promise<number> {
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  let entries = 0;
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const name of readdirSync(dir).sort(compareUtf8)) {
      const path = prefix ? `${prefix}/${name}` : name;
      const full = join(dir, name);
      if (filter.skip(full)) continue;
      if (excluded(path, filter.exclude)) {
        if (filter.excluded.count++ < EXCLUDED_KEPT) filter.excluded.first.push(path);
        continue;
      }
      checkName(path);
      const stat = lstatSync(full);
      entries++;
      if (stat.isDirectory()) {
        await writer.header({ path, type: 'dir', mode: 0o755, size: 0, mtime });
        await walk(full, path);
      } else if (stat.isSymbolicLink())
        await writer.header({ path, type: 'symlink', mode: 0o777, size: 0, mtime, linkpath: readlinkSync(full) });
      else if (stat.isFile()) {
        await writer.header({ path, type: 'file', mode: normalMode('file', stat.mode), size: stat.size, mtime });
        await writeContents(full, path, stat.size, writer, buffer);
      } else
        throw new ArgumentError(
          'dir',
          `${path} is not a file, directory or symlink (a socket, FIFO or device); exclude it`,
        );
    }
  };
  await walk(root, '');
  await writer.end();
  return entries;
}

/** gzip with no name and no time (zlib's default header), and the OS byte set to "unknown" as on every platform. */
function portableGzip(): Transform {
  let first = true;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (first && chunk.length > 9) {
        chunk[9] = 0xff;
        first = false;
      }
      done(null, chunk);
    },
  });
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
  const filter = { exclude: config.exclude.map(pathGlob), skip: (full: string) => ours.has(full) };
  const left: Excluded = { first: [], count: 0 };
  let entries: number;
  try {
    // Up to 1 MiB queued: the next batches are read and written while zlib compresses (in the thread pool).
    const options: ZlibOptions & { writableHighWaterMark: number } = {
      chunkSize: 256 * 1024,
      writableHighWaterMark: 1024 * 1024,
    };
    const gzip = createGzip(options);
    const written = pipeline(
      gzip,
      portableGzip(),
      createWriteStream(partial, { mode: 0o644, highWaterMark: 1024 * 1024 }),
    );
    written.catch(() => {});
    const mtime = Math.floor(config.mtime.getTime() / 1000);
    entries = await writeTree(dir, { ...filter, excluded: left }, new TarWriter(gzip), mtime).catch((error) => {
      gzip.destroy();
      throw error;
    });
    await written;
    await rename(partial, bundlePath);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  const { sha256, size } = await sha256File(bundlePath);
  await writeFile(checksumPath, formatChecksumLine(sha256, basename(bundlePath)));
  return { bundlePath, checksumPath, sha256, size, files: entries, excluded: left };
}
