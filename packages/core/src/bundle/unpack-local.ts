import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import {
  chmod,
  link,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  rmdir,
  symlink,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sha256File } from './hash.js';
import { BundleRefused } from './refused.js';
import { manifestDifference, manifestLine, sortLines, type ReleaseTree } from './release-tree.js';
import type { TarEntry } from './tar-reader.js';
import { readBundle, releaseExistsError, type BundleRead, type EntrySink } from './unpack.js';

/**
 * Unpacking on this machine, by deploy-gates' own code: entries the strict reader accepted are written into a
 * temporary directory beside the release (`.incoming-…`) as they are read — directories 0755, files 0644 or 0755
 * (created new, never through a link), symlinks with their text — owned by this user. Before the rename into place,
 * the directory is read back (lstat, SHA-256 of each file, link texts) and must match the accepted tree exactly,
 * and every symlink's realpath must stay inside it.
 */
export class LocalSink implements EntrySink {
  private file: { handle: FileHandle; mode: number } | undefined;
  constructor(readonly dir: string) {}

  async entry(entry: TarEntry, parents: readonly string[]): Promise<void> {
    for (const parent of parents) await makeDir(join(this.dir, parent));
    const path = join(this.dir, entry.path);
    if (entry.type === 'dir') await makeDir(path);
    else if (entry.type === 'symlink') await symlink(entry.linkpath!, path);
    else if (entry.type === 'link') await link(join(this.dir, entry.linkpath!), path);
    else {
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      this.file = { handle: await open(path, flags, 0o600), mode: entry.mode & 0o100 ? 0o755 : 0o644 };
    }
  }

  async data(chunk: Buffer): Promise<void> {
    await this.file!.handle.write(chunk);
  }

  async endFile(): Promise<void> {
    const file = this.file!;
    this.file = undefined;
    await file.handle.chmod(file.mode);
    await file.handle.close();
  }

  /** Closes a file left open by a refused bundle. */
  async abandon(): Promise<void> {
    await this.file?.handle.close().catch(() => {});
    this.file = undefined;
  }
}

/** A directory 0755 whatever the umask (and without a setgid bit inherited from a parent). */
async function makeDir(path: string): Promise<void> {
  await mkdir(path);
  await chmod(path, 0o755);
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

/** A file's SHA-256: small files read whole (no 8 MiB of buffers per file), large ones streamed. */
async function fileDigest(path: string, size: number): Promise<string> {
  if (size > 1024 * 1024) return (await sha256File(path)).sha256;
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** The manifest of a directory on this machine, in the lines release-tree.ts defines. */
export async function diskManifest(root: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (dir: string, prefix: string) => {
    for (const name of await readdir(dir)) {
      const path = prefix ? `${prefix}/${name}` : name;
      const full = join(dir, name);
      const stat = await lstat(full);
      const mode = (stat.mode & 0o7777).toString(8);
      if (stat.isDirectory()) {
        lines.push(manifestLine(path, 'd', mode));
        await walk(full, path);
      } else if (stat.isSymbolicLink()) lines.push(manifestLine(path, 'l', await readlink(full)));
      else if (stat.isFile())
        lines.push(
          manifestLine(path, 'f', mode, String(stat.size)),
          manifestLine(path, 'h', await fileDigest(full, stat.size)),
        );
      else lines.push(manifestLine(path, 'other'));
    }
  };
  await walk(root, '');
  return sortLines(lines);
}

/** Every symlink under `root` whose realpath (when it exists) is outside `root`; throws BundleRefused for the first. */
async function checkRealpaths(root: string, tree: ReleaseTree): Promise<void> {
  const base = await realpath(root);
  for (const [path, node] of tree.nodes) {
    if (node.type !== 'symlink') continue;
    const resolved = await realpath(join(root, path)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined; // dangling: judged by the tree
      throw new BundleRefused(path, `cannot be resolved on disk (${error.code})`);
    });
    if (resolved !== undefined && resolved !== base && !resolved.startsWith(`${base}/`))
      throw new BundleRefused(path, `resolves on disk to ${resolved}, outside the release`);
  }
}

/** Checks the unpacked directory against the tree, then renames it to `<releasesDir>/<name>`. */
export async function commitLocal(temp: string, tree: ReleaseTree, releasesDir: string, name: string): Promise<string> {
  const difference = manifestDifference(tree.manifest(), await diskManifest(temp));
  if (difference)
    throw new BundleRefused(undefined, `the unpacked directory differs from what was checked: ${difference}`);
  await checkRealpaths(temp, tree);
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

/**
 * Reads the bundle once, writing accepted entries into a temporary directory in `releasesDir`; `judge` sees the
 * read (digest, refusal) and throws to stop; then the directory is checked on disk and renamed to `name`. Anything
 * that fails removes the temporary directory.
 */
export async function unpackLocal(
  bundlePath: string,
  releasesDir: string,
  name: string,
  maxSize: number,
  judge: (read: BundleRead) => void = refuseHostile,
  signal?: AbortSignal,
): Promise<string> {
  // A releases directory made here is removed again when nothing lands in it.
  const made = await mkdir(releasesDir, { recursive: true });
  const temp = await localTemp(releasesDir, name).catch(async (error: unknown) => {
    await removeMade(releasesDir, made);
    throw error;
  });
  const sink = new LocalSink(temp);
  let committed = false;
  try {
    const read = await readBundle(bundlePath, maxSize, sink, signal);
    await sink.abandon();
    judge(read);
    const releaseDir = await commitLocal(temp, read.tree, releasesDir, name);
    committed = true;
    return releaseDir;
  } finally {
    await sink.abandon();
    if (!committed) {
      await removeTemp(temp);
      await removeMade(releasesDir, made);
    }
  }
}
