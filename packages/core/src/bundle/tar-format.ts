/**
 * The tar format as deploy-gates reads and writes it: POSIX ustar headers (512-byte blocks) plus PAX extended
 * headers for what ustar cannot hold. Only the fields listed here are understood; the reader refuses anything else.
 */
export const BLOCK = 512;
/** A PAX header or GNU long name larger than this is refused (GNU tar and node-tar treat huge ones differently). */
export const MAX_META_BYTES = 1024 * 1024;
/** The longest path (bytes) and path segment accepted, as on Linux. */
export const MAX_PATH_BYTES = 4096;
export const MAX_SEGMENT_BYTES = 255;

/** Header field offsets and lengths (POSIX.1-1988 ustar). */
export const FIELD = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  checksum: [148, 8],
  type: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;

/** The unsigned sum of the header's bytes with the checksum field counted as spaces. */
export function headerChecksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/** What a type flag is, for entries the reader refuses by name. */
export const REFUSED_TYPES: Record<string, string> = {
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  '7': 'a contiguous file',
  g: 'a global PAX header (it would change every later entry)',
  S: 'an old-GNU sparse file',
  D: 'a GNU incremental dump directory',
  M: 'a GNU multi-volume continuation',
  N: 'an old-GNU long-name entry',
  V: 'a GNU volume label',
};

/** The entry kinds a release may hold. `link` is a hard link to a regular file earlier in the archive. */
export type EntryType = 'file' | 'dir' | 'symlink' | 'link';

export const TYPE_FLAG: Record<EntryType, string> = { file: '0', dir: '5', symlink: '2', link: '1' };

/** The one mode each kind gets: no setuid/setgid/sticky, nothing group- or world-writable. */
export function normalMode(type: EntryType, mode: number): number {
  if (type === 'dir') return 0o755;
  if (type === 'symlink') return 0o777;
  return mode & 0o100 ? 0o755 : 0o644;
}

const PAX_KEYS_IGNORED = new Set(['atime', 'ctime', 'uid', 'gid', 'uname', 'gname', 'comment']);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 or returns undefined for invalid bytes. */
export function utf8(bytes: Buffer): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Parses a PAX extended header strictly: records `<length> <key>=<value>\n` whose decimal length counts the whole
 * record, one after another, filling the data exactly. A value may hold newlines (the record's length decides where
 * it ends, as in POSIX and GNU tar). Keys other than path, linkpath, size, mtime and a few ignored ones are refused,
 * as is a key given twice. Returns the values or a problem.
 */
export function parsePax(data: Buffer): { values: Map<string, string> } | { problem: string } {
  const values = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const digits = space < 0 ? '' : data.toString('latin1', at, space);
    if (!/^[1-9][0-9]{0,7}$/.test(digits)) return { problem: `has a PAX record without a length at byte ${at}` };
    const end = at + Number(digits);
    if (end > data.length || data[end - 1] !== 0x0a)
      return { problem: `has a PAX record at byte ${at} whose length (${digits}) does not end at a newline` };
    const record = data.subarray(space + 1, end - 1);
    const eq = record.indexOf(0x3d);
    const key = eq < 0 ? undefined : utf8(record.subarray(0, eq));
    const value = eq < 0 ? undefined : utf8(record.subarray(eq + 1));
    if (key === undefined || key === '' || value === undefined)
      return { problem: `has a PAX record at byte ${at} that is not <key>=<UTF-8 value>` };
    if (values.has(key)) return { problem: `has the PAX key "${key}" twice` };
    if (!['path', 'linkpath', 'size', 'mtime'].includes(key) && !PAX_KEYS_IGNORED.has(key))
      return {
        problem: `has the PAX key ${JSON.stringify(key)}, which deploy-gates does not unpack (only path, linkpath, size, mtime and ${[...PAX_KEYS_IGNORED].join(', ')})`,
      };
    values.set(key, value);
    at = end;
  }
  return { values };
}

/** One PAX record, its length prefix counting itself. */
export function paxRecord(key: string, value: string): Buffer {
  const body = Buffer.from(` ${key}=${value}\n`, 'utf8');
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length++;
  return Buffer.concat([Buffer.from(String(length), 'latin1'), body]);
}
