import { BundleRefused } from './refused.js';
import {
  BLOCK,
  FIELD,
  MAX_META_BYTES,
  MAX_PATH_BYTES,
  MAX_SEGMENT_BYTES,
  REFUSED_TYPES,
  headerChecksum,
  parsePax,
  utf8,
  type EntryType,
} from './tar-format.js';

/**
 * A strict tar reader: the one parser whose reading of a bundle decides what is unpacked. It understands POSIX ustar
 * (`ustar\0` `00`) and GNU (`ustar  \0`) headers, PAX extended headers (`x`) and GNU long names (`L`/`K`), and
 * entries of type file, directory, symlink and hard link. Everything else — other types, other magics, bad
 * checksums, numbers in base-256, a PAX header over 1 MiB or with an unknown key, two metadata headers for one
 * entry, a lone zero block, data after the end — refuses the bundle, naming the entry.
 */
export interface TarEntry {
  /** Normalised: no leading `./`, no trailing `/`. */
  path: string;
  type: EntryType;
  /** The permission bits as written (the caller normalises them). */
  mode: number;
  size: number;
  mtime: number;
  /** A symlink's text, or a hard link's target path (normalised like `path`). */
  linkpath?: string;
}

export interface TarConsumer {
  entry(entry: TarEntry): Promise<void> | void;
  data(chunk: Buffer): Promise<void> | void;
}

export interface TarLimits {
  /** Largest uncompressed archive and largest sum of entry sizes, in bytes. */
  maxSize: number;
}

const ONLY = 'only regular files, directories, symlinks and hard links to files are unpacked';

/** A reason an entry is refused (the entry's name is added where it is known). */
class Problem {
  constructor(readonly reason: string) {}
}

/**
 * Reads exact byte counts from an async stream of chunks, counting every byte. Chunks are not copied (a header that
 * straddles two chunks is gathered into a block of its own), and a chunk is asked for only once everything of the
 * previous one was handed out: a source may reuse a chunk's memory for the next-but-one chunk.
 */
class Bytes {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly iterator: AsyncIterator<Buffer>;
  total = 0;
  constructor(
    source: AsyncIterable<Buffer>,
    private readonly onCount: (total: number) => void,
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** The next chunk, once the buffered one is used up. */
  private async fill(): Promise<boolean> {
    const next = await this.iterator.next();
    if (next.done) return false;
    this.total += next.value.length;
    this.onCount(this.total);
    this.buffered = next.value;
    return true;
  }

  /** Exactly `n` bytes, or undefined at the end of the stream. */
  async exactly(n: number): Promise<Buffer | undefined> {
    if (this.buffered.length >= n) {
      const out = this.buffered.subarray(0, n);
      this.buffered = this.buffered.subarray(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    for (let have = 0; have < n;) {
      if (this.buffered.length === 0 && !(await this.fill())) return undefined;
      const take = Math.min(n - have, this.buffered.length);
      this.buffered.copy(out, have, 0, take);
      this.buffered = this.buffered.subarray(take);
      have += take;
    }
    return out;
  }

  /** `n` bytes in pieces as they arrive; false when the stream ended first. */
  async stream(n: number, each: (chunk: Buffer) => Promise<void> | void): Promise<boolean> {
    let left = n;
    while (left > 0) {
      if (this.buffered.length === 0 && !(await this.fill())) return false;
      const piece = this.buffered.subarray(0, Math.min(left, this.buffered.length));
      this.buffered = this.buffered.subarray(piece.length);
      left -= piece.length;
      await each(piece);
    }
    return true;
  }

  /** True when everything left is zero bytes (the padding of the last record). */
  async restIsZero(): Promise<boolean> {
    for (;;) {
      if (this.buffered.some((byte) => byte !== 0)) return false;
      this.buffered = Buffer.alloc(0);
      if (!(await this.fill())) return true;
    }
  }
}

function isZero(block: Buffer): boolean {
  return !block.some((byte) => byte !== 0);
}

/** A NUL-terminated text field (bytes after the NUL are ignored, as by every tar). */
function text(block: Buffer, [offset, length]: readonly [number, number]): Buffer {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

/** An octal number field: optional leading spaces, octal digits, then NUL or spaces. Base-256 is refused. */
function number(block: Buffer, field: readonly [number, number]): number | undefined {
  const raw = block.toString('latin1', field[0], field[0] + field[1]);
  const match = /^ *([0-7]+)[ \0]*$/.exec(raw) ?? (/^[ \0]*$/.test(raw) ? ['', '0'] : undefined);
  return match ? parseInt(match[1]!, 8) : undefined;
}

interface Header {
  flag: string;
  /** The name for messages (Latin-1 when it is not UTF-8). */
  name: string;
  /** False when the name's bytes are not UTF-8. */
  utf8Name: boolean;
  linkname: string;
  mode: number;
  size: number;
  mtime: number;
}

/** The raw name of a header (the ustar prefix joined for POSIX headers only). */
function rawName(block: Buffer, gnu: boolean): Buffer {
  const name = text(block, FIELD.name);
  const prefix = gnu ? Buffer.alloc(0) : text(block, FIELD.prefix);
  return prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), name]) : name;
}

function decodeHeader(block: Buffer): Header {
  const magic = block.toString('latin1', 257, 265);
  const gnu = magic === 'ustar  \0';
  const nameBytes = rawName(block, gnu);
  const name = utf8(nameBytes) ?? nameBytes.toString('latin1');
  const refuse = (reason: string): never => {
    throw new BundleRefused(name, reason);
  };
  if (number(block, FIELD.checksum) !== headerChecksum(block)) refuse('has a header whose checksum is wrong');
  const flag = block.toString('latin1', 156, 157);
  if (REFUSED_TYPES[flag]) refuse(`is ${REFUSED_TYPES[flag]} (${ONLY})`);
  if (magic !== 'ustar\u000000' && !gnu)
    refuse(`has a header of an unknown format (magic and version ${JSON.stringify(magic)}, not "ustar\\u000000")`);
  if (gnu && !isZero(block.subarray(FIELD.prefix[0])))
    refuse('has GNU header fields deploy-gates does not read (sparse map, atime or offset)');
  const fields = {
    mode: number(block, FIELD.mode),
    size: number(block, FIELD.size),
    mtime: number(block, FIELD.mtime),
  };
  for (const [field, value] of Object.entries(fields))
    if (value === undefined) refuse(`has a header whose ${field} is not an octal number`);
  const linkname = text(block, FIELD.linkname);
  if (utf8(linkname) === undefined) refuse('has a link target that is not UTF-8');
  return {
    flag,
    name,
    utf8Name: utf8(nameBytes) !== undefined,
    linkname: utf8(linkname)!,
    mode: fields.mode!,
    size: fields.size!,
    mtime: fields.mtime!,
  };
}

/** The entry's path normalised, or a refusal: `''` is the archive's root. */
function cleanPath(path: string, what = 'path'): string {
  if (/[\u0000-\u001f\u007f]/.test(path)) throw new Problem(`has a control character in its ${what}`);
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path))
    throw new Problem('is an absolute path');
  let clean = path;
  while (clean.startsWith('./')) clean = clean.slice(2);
  clean = clean.replace(/\/+$/, '');
  if (clean === '.' || clean === '') return '';
  const segments = clean.split('/');
  if (segments.includes('..')) throw new Problem('has a ".." segment');
  if (segments.some((segment) => segment === '' || segment === '.')) throw new Problem('has an empty or "." segment');
  if (Buffer.byteLength(clean) > MAX_PATH_BYTES || segments.some((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES))
    throw new Problem(`is longer than ${MAX_PATH_BYTES} bytes or has a name over ${MAX_SEGMENT_BYTES} bytes`);
  return clean;
}

const KINDS: Record<string, EntryType> = { '0': 'file', '\0': 'file', '5': 'dir', '2': 'symlink', '1': 'link' };

interface Meta {
  pax?: Map<string, string>;
  longName?: string;
  longLink?: string;
}

/** Applies the metadata headers to an entry and checks it; throws a Problem for a refusal. */
function toEntry(header: Header, meta: Meta): TarEntry | undefined {
  const type = KINDS[header.flag];
  if (!type) throw new Problem(`is an entry of unknown type ${JSON.stringify(header.flag)} (${ONLY})`);
  const paxSize = meta.pax?.get('size');
  const paxTime = meta.pax?.get('mtime');
  if (paxSize !== undefined && !/^[0-9]{1,15}$/.test(paxSize)) throw new Problem('has a PAX size that is not a number');
  if (paxTime !== undefined && !/^-?[0-9]{1,15}(\.[0-9]+)?$/.test(paxTime))
    throw new Problem('has a PAX mtime that is not a number');
  const size = paxSize !== undefined ? Number(paxSize) : header.size;
  if (type !== 'file' && size !== 0)
    throw new Problem(`is a ${type} with a size (${size} bytes) — only files have contents`);
  const rawPath = meta.pax?.get('path') ?? meta.longName ?? header.name;
  if (rawPath === header.name && !header.utf8Name) throw new Problem('has a name that is not UTF-8');
  if (header.flag === '\0' && rawPath.endsWith('/'))
    throw new Problem('is an old-style directory (type NUL with a trailing /)');
  const path = cleanPath(rawPath);
  if (path === '' && type !== 'dir') throw new Problem('is the archive root but not a directory');
  const link = meta.pax?.get('linkpath') ?? meta.longLink ?? header.linkname;
  const entry: TarEntry = {
    path,
    type,
    mode: header.mode & 0o7777,
    size,
    mtime: paxTime !== undefined ? Math.max(0, Math.floor(Number(paxTime))) : header.mtime,
  };
  if (type === 'symlink') entry.linkpath = symlinkText(link);
  if (type === 'link') entry.linkpath = hardLinkTarget(link);
  return path === '' ? undefined : entry;
}

function symlinkText(link: string): string {
  if (link === '') throw new Problem('is a symlink without a target');
  if (/[\u0000-\u001f\u007f]/.test(link)) throw new Problem('is a symlink whose target has a control character');
  if (link.startsWith('/') || /^[A-Za-z]:/.test(link))
    throw new Problem(`is a symlink to the absolute path ${JSON.stringify(link)}, outside the release`);
  if (Buffer.byteLength(link) > MAX_PATH_BYTES)
    throw new Problem(`is a symlink whose target is over ${MAX_PATH_BYTES} bytes`);
  return link;
}

function hardLinkTarget(link: string): string {
  if (link === '') throw new Problem('is a hard link without a target');
  if (link.startsWith('/') || /^[A-Za-z]:/.test(link))
    throw new Problem(`is a hard link to the absolute path ${JSON.stringify(link)}, outside the release`);
  if (link.split('/').includes('..'))
    throw new Problem(`is a hard link to ${JSON.stringify(link)}, outside the release`);
  const clean = cleanPath(link, 'link target');
  if (clean === '') throw new Problem('is a hard link to the archive root');
  return clean;
}

/** Reads a metadata header's data (`x`, `L`, `K`) into `meta`; refuses a second one for the same entry. */
async function readMeta(bytes: Bytes, header: Header, meta: Meta): Promise<void> {
  if (header.size > MAX_META_BYTES)
    throw new Problem(`has a ${header.flag} header of ${header.size} bytes (over ${MAX_META_BYTES})`);
  const data = await bytes.exactly(Math.ceil(header.size / BLOCK) * BLOCK);
  if (!data) throw new Problem('is cut off inside its metadata header');
  const body = data.subarray(0, header.size);
  const seen = meta.pax ? 'a PAX header' : meta.longName !== undefined ? 'a GNU long name' : undefined;
  if (header.flag === 'x') {
    if (seen || meta.longLink !== undefined) throw new Problem(`has a PAX header after ${seen ?? 'a GNU long link'}`);
    const pax = parsePax(body);
    if ('problem' in pax) throw new Problem(pax.problem);
    meta.pax = pax.values;
    return;
  }
  const nul = body.indexOf(0);
  const value = utf8(nul < 0 ? body : body.subarray(0, nul));
  if (value === undefined) throw new Problem('has a GNU long name that is not UTF-8');
  if (header.flag === 'L') {
    if (seen) throw new Problem(`has a GNU long name after ${seen}`);
    meta.longName = value;
  } else {
    if (meta.pax || meta.longLink !== undefined) throw new Problem('has a second long link header');
    meta.longLink = value;
  }
}

/** The end of the archive: a second zero block, then nothing but zero padding. */
async function readEnd(bytes: Bytes, meta: Meta): Promise<void> {
  if (meta.pax || meta.longName !== undefined || meta.longLink !== undefined)
    throw new BundleRefused(undefined, 'the archive ends right after a metadata header');
  const second = await bytes.exactly(BLOCK);
  if (!second || !isZero(second))
    throw new BundleRefused(undefined, 'the archive has a lone zero block before more data (tars disagree on that)');
  if (!(await bytes.restIsZero()))
    throw new BundleRefused(undefined, 'the archive has data after its end-of-archive blocks');
}

/**
 * Reads a whole tar stream: each accepted entry goes to `consumer.entry`, its contents to `consumer.data`. Throws
 * BundleRefused naming the entry at the first problem, or when sizes pass `limits.maxSize`.
 */
export async function readTar(
  source: AsyncIterable<Buffer>,
  consumer: TarConsumer,
  limits: TarLimits,
): Promise<{ entries: number; contentBytes: number; tarBytes: number }> {
  let current: string | undefined;
  const bytes = new Bytes(source, (total) => {
    if (total > limits.maxSize)
      throw new BundleRefused(
        current,
        `${current === undefined ? 'is' : 'is where the archive is'} over max-size (${limits.maxSize} bytes) uncompressed (gunzip yields more than that)`,
      );
  });
  let entries = 0;
  let contentBytes = 0;
  let meta: Meta = {};
  for (;;) {
    const block = await bytes.exactly(BLOCK);
    if (!block) throw new BundleRefused(current, 'ends the archive without its end-of-archive blocks (cut off)');
    if (isZero(block)) {
      await readEnd(bytes, meta);
      break;
    }
    const header = decodeHeader(block);
    current = meta.pax?.get('path') ?? meta.longName ?? header.name;
    try {
      if (header.flag === 'x' || header.flag === 'L' || header.flag === 'K') {
        await readMeta(bytes, header, meta);
        continue;
      }
      const entry = toEntry(header, meta);
      meta = {};
      const size = entry?.size ?? 0;
      contentBytes += size;
      if (contentBytes > limits.maxSize)
        throw new Problem(
          `takes the archive to ${contentBytes} bytes uncompressed, over max-size (${limits.maxSize} bytes)`,
        );
      if (entry) {
        await consumer.entry(entry);
        entries++;
      }
      const complete = await bytes.stream(size, (chunk) => consumer.data(chunk));
      if (!complete || !(await bytes.exactly((BLOCK - (size % BLOCK)) % BLOCK)))
        throw new Problem('is cut off (the archive ends inside its contents)');
    } catch (error) {
      if (error instanceof Problem) throw new BundleRefused(current, error.reason);
      throw error;
    }
  }
  if (entries === 0) throw new BundleRefused(undefined, 'the archive has no entries');
  return { entries, contentBytes, tarBytes: bytes.total };
}
