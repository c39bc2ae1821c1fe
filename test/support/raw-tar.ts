import { gzipSync } from 'node:zlib';

/**
 * Tar headers written byte by byte, below any tar library: any magic, version, type flag, prefix, size or checksum,
 * so a test can build exactly the malformed or ambiguous archives an attacker would (PAX records with embedded
 * newlines, old-GNU sparse entries, ustar versions other than "00", huge PAX headers, x/L pairs, …).
 */
export interface RawHeader {
  name: string;
  /** The type flag (one character): '0' file, '5' directory, '2' symlink, 'x' PAX, 'L' GNU long name, 'S' sparse… */
  type: string;
  size?: number;
  mode?: number;
  /** Owner id written in the header (default 0). */
  uid?: number;
  linkname?: string;
  /** 6 bytes at 257; default `ustar\0`. */
  magic?: string;
  /** 2 bytes at 263; default `00`. */
  version?: string;
  prefix?: string;
  /** Bytes written at an offset after the fields (e.g. a GNU sparse map), before the checksum. */
  patch?: { offset: number; bytes: Buffer };
  /** Leave the checksum wrong. */
  badChecksum?: boolean;
}

function field(block: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'latin1');
  bytes.copy(block, offset, 0, Math.min(bytes.length, length));
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, '0')}\0`;
}

export function rawHeader(header: RawHeader): Buffer {
  const block = Buffer.alloc(512);
  Buffer.from(header.name, 'utf8').copy(block, 0, 0, 100);
  field(block, 100, 8, octal(header.mode ?? (header.type === '5' ? 0o755 : 0o644), 8));
  field(block, 108, 8, octal(header.uid ?? 0, 8));
  field(block, 116, 8, octal(0, 8));
  field(block, 124, 12, octal(header.size ?? 0, 12));
  field(block, 136, 12, octal(1_767_225_600, 12));
  field(block, 156, 1, header.type);
  Buffer.from(header.linkname ?? '', 'utf8').copy(block, 157, 0, 100);
  field(block, 257, 6, header.magic ?? 'ustar\0');
  field(block, 263, 2, header.version ?? '00');
  Buffer.from(header.prefix ?? '', 'utf8').copy(block, 345, 0, 155);
  header.patch?.bytes.copy(block, header.patch.offset);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  field(block, 148, 8, `${(header.badChecksum ? sum + 1 : sum).toString(8).padStart(6, '0')}\0 `);
  return block;
}

/** Contents padded to whole blocks. */
export function rawBody(data: Buffer | string): Buffer {
  const bytes = Buffer.from(data);
  return Buffer.concat([bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512)]);
}

/** A regular file entry (header and body). */
export function rawFile(name: string, body: Buffer | string, mode = 0o644): Buffer {
  const bytes = Buffer.from(body);
  return Buffer.concat([rawHeader({ name, type: '0', size: bytes.length, mode }), rawBody(bytes)]);
}

/** One PAX record with a correct length prefix. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length++;
  return `${length}${body}`;
}

/** A PAX extended header entry ('x') holding `data` as is. */
export function rawPax(data: string | Buffer): Buffer {
  const bytes = Buffer.from(data);
  return Buffer.concat([rawHeader({ name: 'PaxHeader', type: 'x', size: bytes.length }), rawBody(bytes)]);
}

/** Blocks, the end-of-archive marker, gzipped. */
export function rawArchive(...parts: Buffer[]): Buffer {
  return gzipSync(Buffer.concat([...parts, Buffer.alloc(1024)]));
}
