import { createHash, hash as digestOf } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
  writeSync,
  createWriteStream,
  type Stats,
} from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, open, rename, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { finished } from 'node:stream/promises';
import { dirname, join } from 'node:path';
import { CanonicalSink } from './canonical.js';
import { sha256File } from './hash.js';
import { BundleRefused } from './refused.js';
import { compareUtf8, type ReleaseTree, type TreeNode } from './release-tree.js';
import { readTar, type TarEntry } from './tar-reader.js';
import { TarWriter } from './tar-writer.js';
import { youngCollector } from './young-gc.js';
import { collected, readBundle, releaseExistsError, type BundleRead, type EntrySink } from './unpack.js';

/**
 * Unpacking on this machine, by deploy-gates' own code: once the bundle is accepted, its entries (from the canonical
 * archive spooled during the one read, see unpackLocal) are written into a temporary directory beside the release
 * (`.incoming-…`) — directories 0755, files 0644 or 0755 (created new, never through a link), symlinks with their
 * text — owned by this user. Before the rename into place,
 * the directory is read back (lstat, SHA-256 of each file, link texts) and must match the accepted tree exactly,
 * and every symlink's realpath must stay inside it.
 *
 * The file system calls are synchronous: each is one short system call on a directory only this process writes,
 * and going through libuv's thread pool for every one of them (several per entry) made unpacking 30,000 entries
 * take 15× GNU tar's time.
 */
export class LocalSink implements EntrySink {
  private file: { fd: number; mode: number } | undefined;
  constructor(readonly dir: string) {}

  entry(entry: TarEntry, parents: readonly string[]): Promise<void> {
    for (const parent of parents) makeDir(join(this.dir, parent));
    const path = join(this.dir, entry.path);
    if (entry.type === 'dir') makeDir(path);
    else if (entry.type === 'symlink') symlinkSync(entry.linkpath!, path);
    else if (entry.type === 'link') linkSync(join(this.dir, entry.linkpath!), path);
    else {
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      this.file = { fd: openSync(path, flags, 0o600), mode: entry.mode & 0o100 ? 0o755 : 0o644 };
    }
    return Promise.resolve();
  }

  data(chunk: Buffer): Promise<void> {
    for (let at = 0; at < chunk.length;) at += writeSync(this.file!.fd, chunk, at, chunk.length - at);
    return Promise.resolve();
  }

  endFile(): Promise<void> {
    const file = this.file!;
    this.file = undefined;
    try {
      fchmodSync(file.fd, file.mode);
    } finally {
      closeSync(file.fd);
    }
    return Promise.resolve();
  }

  /** Closes a file left open by a refused bundle. */
  async abandon(): Promise<void> {
    if (this.file) closeSync(this.file.fd);
    this.file = undefined;
  }
}

/** A directory 0755 whatever the umask (and without a setgid bit inherited from a parent). */
function makeDir(path: string): void {
  mkdirSync(path);
  chmodSync(path, 0o755);
}

/** A new temporary directory in `releasesDir` for release `name`, after checking the release does not exist. */
export async function localTemp(releasesDir: string, name: string): Promise<string> {
  const releaseDir = join(releasesDir, name);
  if (
    await lstat(releaseDir).then(
      () => true,
      () => false,
    )
  )
    throw releaseExistsError(releaseDir);
  return mkdtemp(join(releasesDir, `.incoming-${name}-`));
}

const SMALL_FILE = 1024 * 1024;

/**
 * A file's SHA-256 (never through a link): a file that fits in the reused buffer is read whole and hashed with
 * one-shot `hash()` (a Hash object per file held native memory until a collection found it), larger ones streamed.
 */
async function fileDigest(path: string, size: number, buffer: Buffer): Promise<string> {
  if (size > SMALL_FILE) return (await sha256File(path)).sha256;
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    let filled = 0;
    for (let read; filled < buffer.length && (read = readSync(fd, buffer, filled, buffer.length - filled, null)) > 0;)
      filled += read;
    if (filled < buffer.length) return digestOf('sha256', buffer.subarray(0, filled), 'hex');
    const hash = createHash('sha256').update(buffer);
    for (let read; (read = readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, read));
    return hash.digest('hex');
  } finally {
    closeSync(fd);
  }
}

/** How the manifest names what is at a path: the first field that differs is what a message shows. */
function describe(node: TreeNode | undefined): string {
  if (!node) return 'nothing';
  if (node.type === 'dir') return `directory ${node.mode.toString(8)}`;
  if (node.type === 'symlink') return `symlink ${node.link}`;
  return `file ${node.mode.toString(8)} ${node.size}`;
}

/** What is on disk at `full`, in the tree's terms (a file's digest only when `digest` is asked for). */
function onDisk(full: string, stat: Stats): TreeNode | { type: 'other' } {
  const mode = stat.mode & 0o7777;
  if (stat.isDirectory()) return { type: 'dir', mode, size: 0 };
  if (stat.isSymbolicLink()) return { type: 'symlink', mode: 0o777, size: 0, link: readlinkSync(full) };
  if (stat.isFile()) return { type: 'file', mode, size: stat.size };
  return { type: 'other' };
}

const differs = (path: string, checked: string, found: string) =>
  `entry ${JSON.stringify(path)}: the check accepted ${checked}, the unpacked directory holds ${found}`;

/**
 * Compares a directory on this machine with the tree, entry by entry (no manifest is built: the tree is looked up by
 * path, and the entries found are counted): the first difference, said for a person, or undefined.
 */
export async function diskDifference(root: string, tree: ReleaseTree): Promise<string | undefined> {
  let found = 0;
  const buffer = Buffer.allocUnsafe(256 * 1024);
  const collect = youngCollector(); // the walk's strings and stats are garbage at once (see young-gc.ts)
  const walk = async (dir: string, prefix: string): Promise<string | undefined> => {
    for (const name of readdirSync(dir).sort(compareUtf8)) {
      const path = prefix ? `${prefix}/${name}` : name;
      const full = join(dir, name);
      const there = onDisk(full, lstatSync(full));
      collect(4096);
      const checked = tree.get(path);
      if (checked) found++;
      if (there.type === 'other') return differs(path, describe(checked), 'an entry of another type');
      if (describe(checked) !== describe(there)) return differs(path, describe(checked), describe(there));
      if (there.type === 'file') {
        const sha256 = await fileDigest(full, there.size, buffer);
        if (sha256 !== checked!.sha256) return differs(path, `SHA-256 ${checked!.sha256}`, `SHA-256 ${sha256}`);
      }
      if (there.type === 'dir') {
        const difference = await walk(full, path);
        if (difference) return difference;
      }
    }
    return undefined;
  };
  const difference = await walk(root, '');
  if (difference) return difference;
  // Every path on disk is one entry of the tree; fewer than the tree holds means one is missing: find which.
  if (found === tree.size) return undefined;
  for (const path of tree.paths())
    if (!lstatSync(join(root, path), { throwIfNoEntry: false }))
      return differs(path, describe(tree.get(path)), 'nothing');
  return `it holds ${found} of the ${tree.size} entries checked`;
}

/** Every symlink under `root` whose realpath (when it exists) is outside `root`; throws BundleRefused for the first. */
function checkRealpaths(root: string, tree: ReleaseTree): void {
  const base = realpathSync(root);
  for (const [path] of tree.symlinks()) {
    let resolved: string;
    try {
      resolved = realpathSync(join(root, path));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue; // dangling: judged by the tree
      throw new BundleRefused(path, `cannot be resolved on disk (${code})`);
    }
    if (resolved !== base && !resolved.startsWith(`${base}/`))
      throw new BundleRefused(path, `resolves on disk to ${resolved}, outside the release`);
  }
}

/** Checks the unpacked directory against the tree, then renames it to `<releasesDir>/<name>`. */
export async function commitLocal(temp: string, tree: ReleaseTree, releasesDir: string, name: string): Promise<string> {
  const difference = await diskDifference(temp, tree);
  if (difference)
    throw new BundleRefused(undefined, `the unpacked directory differs from what was checked: ${difference}`);
  checkRealpaths(temp, tree);
  await chmod(temp, 0o755);
  const releaseDir = join(releasesDir, name);
  try {
    await lstat(releaseDir);
    throw releaseExistsError(releaseDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  try {
    await rename(temp, releaseDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') throw releaseExistsError(releaseDir);
    throw error;
  }
  return releaseDir;
}

export async function removeTemp(temp: string): Promise<void> {
  await rm(temp, { recursive: true, force: true });
}

/** Removes the (empty) directories `mkdir -p` made, from `dir` up to `made`, the first one it created. */
async function removeMade(dir: string, made: string | undefined): Promise<void> {
  if (made === undefined) return;
  for (let at = dir; ; at = dirname(at)) {
    await rmdir(at).catch(() => {});
    if (at === made || at === dirname(at)) return;
  }
}

/** Throws the refusal of a bundle read, if any (the default judgement of unpackLocal). */
function refuseHostile(read: BundleRead): void {
  if (read.refusal) throw read.refusal;
}

/** Reads the bundle once, writing the accepted entries into a canonical archive at `file` (see canonical.ts). */
async function spoolAccepted(bundlePath: string, file: string, maxSize: number, signal?: AbortSignal) {
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  const writer = new TarWriter(out);
  try {
    const read = await readBundle(bundlePath, maxSize, new CanonicalSink(writer, ''), signal);
    await writer.end();
    await finished(out);
    return read;
  } catch (error) {
    out.destroy();
    throw error;
  }
}

/**
 * A file's bytes through two reused 512 KiB buffers (no garbage per read): a chunk stays valid until the next-but-one
 * is read, which the strict reader allows (it asks for a chunk only once it handed out all of the previous one).
 */
async function* fileChunks(path: string): AsyncGenerator<Buffer> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  const buffers = [Buffer.allocUnsafe(512 * 1024), Buffer.allocUnsafe(512 * 1024)];
  try {
    for (let which = 0; ; which = 1 - which) {
      const { bytesRead } = await handle.read(buffers[which]!, 0, buffers[which]!.length, null);
      if (bytesRead === 0) return;
      yield buffers[which]!.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** Unpacks our own canonical archive into `temp` with the strict reader (every directory is in it, parents first). */
async function unpackCanonical(file: string, temp: string): Promise<void> {
  const sink = new LocalSink(temp);
  let inFile = false;
  try {
    await readTar(
      collected(fileChunks(file)),
      {
        async entry(entry) {
          if (inFile) await sink.endFile();
          inFile = entry.type === 'file';
          await sink.entry(entry, []);
        },
        data: (chunk) => sink.data(chunk),
      },
      { maxSize: Number.MAX_SAFE_INTEGER }, // the bundle's sizes were bounded by the first read
    );
    if (inFile) await sink.endFile();
  } finally {
    await sink.abandon();
  }
}

/**
 * Reads the bundle once — hashing it, and writing the accepted entries into a canonical archive in a private
 * directory under RUNNER_TEMP — and lets `judge` see the read (digest, refusal; it throws to stop). Nothing is
 * created in `releasesDir` before that: only an accepted bundle makes it (and its parents) and a temporary directory
 * there, into which the canonical archive is unpacked; the directory is then compared with the accepted tree on
 * disk and renamed to `name`. Anything that fails removes the temporary directory and the directories it made.
 */
export async function unpackLocal(
  bundlePath: string,
  releasesDir: string,
  name: string,
  maxSize: number,
  judge: (read: BundleRead) => void = refuseHostile,
  signal?: AbortSignal,
): Promise<string> {
  const releaseDir = join(releasesDir, name);
  if (
    await lstat(releaseDir).then(
      () => true,
      () => false,
    )
  )
    throw releaseExistsError(releaseDir);
  const spool = await mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), 'dg-accepted-'));
  let read: BundleRead | undefined;
  try {
    const file = join(spool, 'release.tar');
    read = await spoolAccepted(bundlePath, file, maxSize, signal);
    judge(read);
    const made = await mkdir(releasesDir, { recursive: true });
    const temp = await localTemp(releasesDir, name).catch(async (error: unknown) => {
      await removeMade(releasesDir, made);
      throw error;
    });
    let committed = false;
    try {
      await unpackCanonical(file, temp);
      const committedDir = await commitLocal(temp, read.tree, releasesDir, name);
      committed = true;
      return committedDir;
    } finally {
      if (!committed) {
        await removeTemp(temp);
        await removeMade(releasesDir, made);
      }
    }
  } finally {
    read?.tree.close();
    await rm(spool, { recursive: true, force: true });
  }
}
