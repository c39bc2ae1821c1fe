import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { youngCollector } from './young-gc.js';
import { BLOCK, FIELD, TYPE_FLAG, headerChecksum, paxRecord, type EntryType } from './tar-format.js';

/**
 * Writes plain archives: one ustar header per entry (magic `ustar\0`, version `00`), the prefix field only where a
 * path splits cleanly at a `/`, a PAX header only for a path, link or size ustar cannot hold; no owner, group or
 * user names, and the mode the caller gives. pack-bundle writes its bundles with it, and verify-bundle-sha the
 * canonical archive a host unpacks, so what either emits is the small subset of tar the strict reader accepts.
 */
export interface HeaderFields {
  path: string;
  type: EntryType;
  mode: number;
  size: number;
  /** Seconds since the epoch (whole). */
  mtime: number;
  linkpath?: string;
}

const MAX_OCTAL_SIZE = 8 ** 11 - 1;

/** Writes `value` (UTF-8) into the field, straight into the block (no buffer per field: 11 fields per entry). */
function put(block: Buffer, [offset, length]: readonly [number, number], value: string): void {
  const bytes = Buffer.byteLength(value);
  if (bytes > length) throw new Error(`tar field at ${offset} overflows (${bytes} > ${length})`);
  block.write(value, offset, bytes, 'utf8');
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, '0');
}

/** `[prefix, name]` for a path ustar can hold, else undefined. */
function ustarName(path: string): [string, string] | undefined {
  const bytes = Buffer.byteLength(path);
  if (bytes <= 100) return ['', path];
  for (let cut = path.indexOf('/'); cut > 0; cut = path.indexOf('/', cut + 1)) {
    const prefix = path.slice(0, cut);
    const name = path.slice(cut + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return [prefix, name];
  }
  return undefined;
}

function ustarHeader(
  fields: HeaderFields,
  typeFlag: string,
  name: [string, string],
  linkname: string,
  block: Buffer = Buffer.alloc(BLOCK),
): Buffer {
  put(block, FIELD.name, name[1]);
  put(block, FIELD.mode, octal(fields.mode, 8));
  put(block, FIELD.uid, octal(0, 8));
  put(block, FIELD.gid, octal(0, 8));
  put(block, FIELD.size, octal(fields.size > MAX_OCTAL_SIZE ? 0 : fields.size, 12));
  put(block, FIELD.mtime, octal(Math.max(0, Math.min(fields.mtime, MAX_OCTAL_SIZE)), 12));
  put(block, FIELD.type, typeFlag);
  put(block, FIELD.linkname, linkname);
  put(block, FIELD.magic, 'ustar\0');
  put(block, FIELD.version, '00');
  put(block, FIELD.prefix, name[0]);
  put(block, FIELD.checksum, `${octal(headerChecksum(block), 7)}\0`);
  return block;
}

const ZEROS = Buffer.alloc(2 * BLOCK);

/** The zeros after `size` bytes of contents up to the next block (a view of one shared buffer: never write to it). */
function padding(size: number): Buffer {
  return ZEROS.subarray(0, (BLOCK - (size % BLOCK)) % BLOCK);
}

/**
 * The header block(s) of one entry: a PAX header first when ustar cannot hold the path, link text or size. The
 * ustar block is encoded in `scratch` when given (the result is then a view of it, valid until its next use).
 */
export function encodeHeader(fields: HeaderFields, scratch?: Buffer): Buffer {
  const path = fields.type === 'dir' ? `${fields.path}/` : fields.path;
  const records: Buffer[] = [];
  let name = ustarName(path);
  if (!name) {
    records.push(paxRecord('path', path));
    name = ['', 'PaxHeader'];
  }
  let linkname = fields.linkpath ?? '';
  if (Buffer.byteLength(linkname) > 100) {
    records.push(paxRecord('linkpath', linkname));
    linkname = '';
  }
  if (fields.size > MAX_OCTAL_SIZE) records.push(paxRecord('size', String(fields.size)));
  const header = ustarHeader(fields, TYPE_FLAG[fields.type], name, linkname, scratch?.fill(0));
  if (records.length === 0) return header;
  const data = Buffer.concat(records);
  const pax = ustarHeader(
    { path: '', type: 'file', mode: 0o644, size: data.length, mtime: fields.mtime },
    'x',
    ['', 'PaxHeader'],
    '',
  );
  return Buffer.concat([pax, data, padding(data.length), header]);
}

/** Bytes gathered before one write to the output: a 512-byte header per write made gzip's thread-pool round trips dominate. */
const BATCH_BYTES = 256 * 1024;

/**
 * Writes entries to a stream, honouring its back-pressure. Everything written is copied into a batch of
 * BATCH_BYTES that goes out whole, so callers may reuse their buffers as soon as write() returns; a batch is reused
 * once the stream is done with it, so memory stays the few batches the stream holds, whatever the archive's size.
 */
export class TarWriter {
  private bytes = 0;
  private batch: Buffer = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;
  private readonly free: Buffer[] = [];
  private readonly scratch = Buffer.alloc(BLOCK);
  private readonly collect = youngCollector();
  constructor(private readonly out: Writable) {}

  /** Bytes written so far. */
  get written(): number {
    return this.bytes;
  }

  async write(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length;
    for (let at = 0; at < chunk.length;) {
      if (this.used === BATCH_BYTES) await this.flush();
      const copied = chunk.copy(this.batch, this.used, at, Math.min(chunk.length, at + BATCH_BYTES - this.used));
      this.used += copied;
      at += copied;
    }
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    const batch = this.batch;
    this.batch = this.free.pop() ?? Buffer.allocUnsafe(BATCH_BYTES);
    const full = batch.subarray(0, this.used);
    this.used = 0;
    this.collect(full.length);
    // The stream calls back once it is done with the batch (zlib consumed it): then it is reused.
    if (!this.out.write(full, () => this.free.push(batch))) await once(this.out, 'drain');
  }

  /**
   * An entry's header; a file's body follows with write() and then pad(size). The usual one-block header is encoded
   * in one reused block (a buffer per header was 15 MiB of garbage for 30,000 entries): await each call.
   */
  header(fields: HeaderFields): Promise<void> {
    return this.write(encodeHeader(fields, this.scratch));
  }

  async pad(size: number): Promise<void> {
    if (size % BLOCK !== 0) await this.write(padding(size));
  }

  /** A whole small file. */
  async file(fields: Omit<HeaderFields, 'type' | 'size'>, body: Buffer): Promise<void> {
    await this.header({ ...fields, type: 'file', size: body.length });
    await this.write(body);
    await this.pad(body.length);
  }

  /** The end-of-archive marker (two zero blocks); the stream is ended too. */
  async end(): Promise<void> {
    await this.write(ZEROS);
    await this.flush();
    this.out.end();
  }
}
