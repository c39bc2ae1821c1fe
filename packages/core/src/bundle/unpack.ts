import { createHash, hash as digestOf, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import { UserError } from '../errors.js';
import { BundleRefused } from './refused.js';
import { ReleaseTree } from './release-tree.js';
import { youngCollector } from './young-gc.js';
import { readTar, type TarEntry } from './tar-reader.js';

export { BundleRefused } from './refused.js';

/**
 * One read of a bundle decides everything: the file is opened once, and every byte read from that one descriptor is
 * hashed, gunzipped and parsed by the strict reader (tar-reader.ts) as it arrives; each accepted entry goes to a
 * sink that writes it (into the canonical archive this machine or a host unpacks once the bundle is accepted).
 * Nothing reopens the path, so a file swapped or changed after the open is never what was hashed on one side and
 * unpacked on the other.
 */
export interface ScanResult {
  /** Entries (files, directories, links). */
  entries: number;
  /** Sum of the entries' sizes. */
  contentBytes: number;
  /** Bytes of the uncompressed tar stream. */
  tarBytes: number;
}

/** Where accepted entries are written: `parents` are directories implied by the path and not yet made. */
export interface EntrySink {
  entry(entry: TarEntry, parents: readonly string[]): Promise<void>;
  data(chunk: Buffer): Promise<void>;
  /** After the last byte of a file. */
  endFile(): Promise<void>;
}

export interface BundleRead {
  /** Of every byte of the file, read through the one descriptor. */
  sha256: string;
  size: number;
  /** The accepted entries (on disk, see release-tree.ts): the caller closes it. */
  tree: ReleaseTree;
  scan?: ScanResult;
  /** Why the bundle was refused, when it was (the file was still hashed to the end). */
  refusal?: BundleRefused;
}

const READ_BYTES = 512 * 1024;

/**
 * Hands accepted entries to the tree and the sink, hashing each file's contents on the way: a file whose contents
 * arrive in one chunk (most small files) with one-shot `hash()`, others with a Hash object (each holds native
 * memory until a collection finds it: 300,000 of them were tens of MiB).
 */
function treeConsumer(tree: ReleaseTree, sink: EntrySink | undefined) {
  let file: { path: string; size: number; hash?: Hash; digest?: Buffer } | undefined;
  const close = async () => {
    if (!file) return;
    tree.setDigest(file.path, file.digest ?? file.hash?.digest() ?? digestOf('sha256', '', 'buffer'));
    file = undefined;
    await sink?.endFile();
  };
  return {
    close,
    async entry(entry: TarEntry) {
      await close();
      const parents = tree.add(entry);
      if (parents === undefined) return;
      await sink?.entry(entry, parents);
      if (entry.type === 'file') file = { path: entry.path, size: entry.size };
    },
    async data(chunk: Buffer) {
      const open = file!;
      if (!open.hash && !open.digest && chunk.length === open.size) open.digest = digestOf('sha256', chunk, 'buffer');
      else (open.hash ??= createHash('sha256')).update(chunk);
      await sink?.data(chunk);
    },
  };
}

/** The chunks of `source`, with a young-generation collection every 2 MiB of them (see young-gc.ts). */
export async function* collected(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const collect = youngCollector();
  for await (const chunk of source) {
    collect(chunk.length);
    yield chunk;
  }
}

/** Parses what gunzip yields; every failure becomes a BundleRefused naming what is known. */
async function parse(gunzip: AsyncIterable<Buffer>, tree: ReleaseTree, sink: EntrySink | undefined, maxSize: number) {
  const consumer = treeConsumer(tree, sink);
  try {
    const scan = await readTar(collected(gunzip), consumer, { maxSize });
    await consumer.close();
    tree.checkLinks();
    return { scan };
  } catch (error) {
    if (error instanceof BundleRefused) return { refusal: error };
    if (error instanceof UserError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_'))
      return {
        refusal: new BundleRefused(
          undefined,
          `could not be read: ${(error as Error).message} (the bundle is not a complete tar.gz)`,
        ),
      };
    throw error;
  }
}

/** Writes `chunk` to gunzip and resolves once zlib has consumed it (its buffer may then be read into again). */
function inflate(gunzip: Writable, chunk: Buffer, parsed: Promise<unknown>): Promise<unknown> {
  return Promise.race([new Promise<void>((resolve) => gunzip.write(chunk, () => resolve())), parsed]);
}

/**
 * Reads the bundle at `path` once (see above). A refused bundle is still hashed to its end, so a checksum mismatch
 * is told before a refusal; whatever the sink wrote is the caller's to remove unless both the digest and the
 * entries pass. Two reused read buffers: while zlib (in libuv's thread pool) inflates one, the next read fills the
 * other, and the main thread hashes and parses; no buffer is allocated per read.
 */
export async function readBundle(
  path: string,
  maxSize: number,
  sink?: EntrySink,
  signal?: AbortSignal,
): Promise<BundleRead> {
  const file = await open(path, constants.O_RDONLY);
  const hash = createHash('sha256');
  let size = 0;
  const tree = new ReleaseTree();
  // zlib stops inflating while more than readableHighWaterMark waits to be parsed: 512 KiB (four outputs) lets it run
  // ahead in the thread pool while the main thread hashes and parses, instead of taking turns with it.
  const options: ZlibOptions & { readableHighWaterMark: number } = {
    chunkSize: 128 * 1024,
    readableHighWaterMark: 512 * 1024,
  };
  const gunzip = createGunzip(options);
  let parsing = true;
  const parsed = parse(gunzip, tree, sink, maxSize).finally(() => {
    parsing = false;
    gunzip.destroy();
  });
  parsed.catch(() => {});
  const buffers = [Buffer.allocUnsafe(READ_BYTES), Buffer.allocUnsafe(READ_BYTES)] as const;
  let current = 0;
  let pending = file.read(buffers[0], 0, READ_BYTES, null);
  let inflating: Promise<unknown> = Promise.resolve();
  try {
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      signal?.throwIfAborted();
      const chunk = buffers[current]!.subarray(0, bytesRead);
      hash.update(chunk);
      size += bytesRead;
      await inflating; // zlib is done with the other buffer
      current = 1 - current;
      pending = file.read(buffers[current]!, 0, READ_BYTES, null);
      inflating = parsing ? inflate(gunzip, chunk, parsed) : Promise.resolve();
    }
    await inflating;
    if (parsing) gunzip.end();
  } catch (error) {
    gunzip.destroy(error as Error); // ends the parse, which uses the tree until then
    await parsed.catch(() => undefined);
    tree.close();
    throw error;
  } finally {
    await pending.catch(() => undefined);
    await file.close();
  }
  const outcome = await parsed.catch((error: unknown) => {
    tree.close();
    throw error;
  });
  return { sha256: hash.digest('hex'), size, tree, ...outcome };
}

/** Parses a bundle (nothing is written) and throws BundleRefused for a hostile one. */
export async function scanBundle(path: string, maxSize: number): Promise<ScanResult> {
  const read = await readBundle(path, maxSize);
  read.tree.close();
  if (read.refusal) throw read.refusal;
  return read.scan!;
}

export class ReleaseExists extends UserError {
  override name = 'ReleaseExists';
}

export function releaseExistsError(releaseDir: string): ReleaseExists {
  return new ReleaseExists(
    `Release directory ${releaseDir} already exists; a release is never overwritten. Pass another release-name, or remove it if it is a failed attempt.`,
  );
}
