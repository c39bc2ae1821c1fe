import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { ReadEntry } from 'tar';
import { UserError } from '../errors.js';

/**
 * Safe unpacking. `tar` for Node strips absolute paths and `..` with only a warning, and GNU tar has its own rules;
 * here every entry is checked first, on the bytes whose hash was verified, and the bundle is refused — naming the
 * entry — when one is an absolute path, has a `..` segment, is a symlink or hard link pointing outside the release
 * (or an entry goes through a symlink of the archive), is a device, FIFO or any type other than file, directory
 * and link, or when the archive is larger than the limit uncompressed (by its entries' declared sizes, and by the
 * bytes gunzip actually yields). Only then is it unpacked, into a temporary directory beside the release that is
 * renamed into place; a release that exists is never overwritten, and a failure leaves nothing behind.
 */
export class BundleRefused extends UserError {
  override name = 'BundleRefused';
  constructor(
    readonly entry: string | undefined,
    readonly reason: string,
  ) {
    super(
      entry === undefined ? `Bundle refused: ${reason}` : `Bundle refused: entry ${JSON.stringify(entry)} ${reason}`,
    );
  }
}

export interface ScanResult {
  /** Entries (files, directories, links). */
  entries: number;
  /** Sum of the entries' sizes. */
  contentBytes: number;
  /** Bytes of the uncompressed tar stream. */
  tarBytes: number;
}

const ALLOWED = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);
const KIND: Record<string, string> = {
  CharacterDevice: 'a character device',
  BlockDevice: 'a block device',
  FIFO: 'a FIFO',
};

/** The problem of one entry, or undefined; `links` holds the symlinks seen so far (paths, normalised). */
export function entryProblem(
  entry: { path: string; type: string; linkpath?: string },
  links: Set<string>,
): string | undefined {
  const path = entry.path;
  if (path === '' || path.includes('\0')) return 'has an empty or invalid path';
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)) return 'is an absolute path';
  const segments = path.split(/[\\/]/);
  if (segments.includes('..')) return 'has a ".." segment';
  if (!ALLOWED.has(entry.type))
    return `is ${KIND[entry.type] ?? `an entry of type ${entry.type}`} (only files, directories and links inside the release are unpacked)`;
  const clean = posix.normalize(path).replace(/\/+$/, '');
  const parts = clean.split('/');
  for (let i = 1; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    if (links.has(prefix)) return `goes through the symlink ${JSON.stringify(prefix)} of the archive`;
  }
  if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
    const what = entry.type === 'SymbolicLink' ? 'symlink' : 'hard link';
    const target = entry.linkpath ?? '';
    if (target === '') return `is a ${what} without a target`;
    if (target.startsWith('/') || /^[A-Za-z]:/.test(target))
      return `is a ${what} to the absolute path ${JSON.stringify(target)}, outside the release`;
    // A symlink's target is relative to its own folder; a hard link's to the archive's root.
    const resolved = posix.normalize(entry.type === 'SymbolicLink' ? posix.join(posix.dirname(clean), target) : target);
    if (resolved === '..' || resolved.startsWith('../'))
      return `is a ${what} to ${JSON.stringify(target)}, outside the release`;
    if (entry.type === 'Link') {
      if (target.split('/').includes('..'))
        return `is a hard link whose target ${JSON.stringify(target)} has a ".." segment`;
      const tparts = resolved.split('/');
      for (let i = 1; i <= tparts.length; i++)
        if (links.has(tparts.slice(0, i).join('/')))
          return `is a hard link through the symlink ${JSON.stringify(tparts.slice(0, i).join('/'))}`;
    }
  }
  return undefined;
}

/** Reads the whole archive once and checks every entry; throws BundleRefused on the first problem. */
export async function scanBundle(bundlePath: string, maxSize: number): Promise<ScanResult> {
  let entries = 0;
  let contentBytes = 0;
  let tarBytes = 0;
  let current: string | undefined;
  const links = new Set<string>();
  const { Parser } = await import('tar');
  let refusal: BundleRefused | undefined;
  const parser = new Parser({ strict: true });
  const refuse = (error: BundleRefused) => {
    refusal ??= error;
    parser.abort(error);
  };
  parser.on('entry', (entry: ReadEntry) => {
    current = entry.path;
    const problem = entryProblem({ path: entry.path, type: entry.type, linkpath: entry.linkpath }, links);
    if (problem) return refuse(new BundleRefused(entry.path, problem));
    entries++;
    contentBytes += entry.size ?? 0;
    if (contentBytes > maxSize)
      return refuse(
        new BundleRefused(
          entry.path,
          `takes the archive to ${contentBytes} bytes uncompressed, over max-size (${maxSize} bytes)`,
        ),
      );
    if (entry.type === 'SymbolicLink') links.add(posix.normalize(entry.path).replace(/\/+$/, ''));
    entry.resume();
  });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      tarBytes += chunk.length;
      if (tarBytes > maxSize) {
        const error = new BundleRefused(
          current,
          `${current === undefined ? 'is' : 'is where the archive is'} over max-size (${maxSize} bytes) uncompressed (gunzip yields more than that)`,
        );
        refusal ??= error;
        return done(error);
      }
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      createReadStream(bundlePath, { highWaterMark: 1024 * 1024 }),
      createGunzip(),
      counter,
      parser as unknown as NodeJS.WritableStream,
    );
  } catch (error) {
    if (refusal) throw refusal;
    const message = error instanceof Error ? error.message : String(error);
    throw new BundleRefused(current, `could not be read: ${message} (the bundle is not a complete tar.gz)`);
  }
  if (refusal) throw refusal;
  if (entries === 0) throw new BundleRefused(undefined, 'the archive has no entries');
  return { entries, contentBytes, tarBytes };
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

export class ReleaseExists extends UserError {
  override name = 'ReleaseExists';
}

export function releaseExistsError(releaseDir: string): ReleaseExists {
  return new ReleaseExists(
    `Release directory ${releaseDir} already exists; a release is never overwritten. Pass another release-name, or remove it if it is a failed attempt.`,
  );
}

/**
 * Unpacks a scanned bundle on this machine into `<releasesDir>/<releaseName>` by way of a temporary directory in
 * `releasesDir` (`.incoming-…`, which release-switch leaves alone) that is renamed into place.
 */
export async function unpackLocal(bundlePath: string, releasesDir: string, releaseName: string): Promise<string> {
  const releaseDir = join(releasesDir, releaseName);
  await mkdir(releasesDir, { recursive: true });
  if (await exists(releaseDir)) throw releaseExistsError(releaseDir);
  const temp = await mkdtemp(join(releasesDir, `.incoming-${releaseName}-`));
  try {
    const warnings: string[] = [];
    const { extract } = await import('tar');
    await extract({
      file: bundlePath,
      cwd: temp,
      strict: true,
      preservePaths: false,
      preserveOwner: false,
      onwarn: (_code: string, message: string | Error) => warnings.push(String(message)),
    } as never);
    if (warnings.length > 0) throw new Error(`tar warned while unpacking: ${warnings.slice(0, 3).join('; ')}`);
    await chmod(temp, 0o755 & ~process.umask());
    if (await exists(releaseDir)) throw releaseExistsError(releaseDir);
    await rename(temp, releaseDir);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') throw releaseExistsError(releaseDir);
    throw error;
  }
  return releaseDir;
}
