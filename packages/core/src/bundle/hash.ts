import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/**
 * The SHA-256 of a file, read once, front to back, through two reused buffers: memory stays the same whatever the
 * file's size (no queue of chunks as with a stream), and large reads keep the hashing at OpenSSL's pace
 * (`openssl dgst -sha256` reads 64 KiB at a time; a default Node stream reads 64 KiB chunks and allocates each).
 */
export const HASH_BUFFER_BYTES = 4 * 1024 * 1024;

export interface FileDigest {
  /** Lower-case hex. */
  sha256: string;
  /** Bytes read. */
  size: number;
}

export async function sha256File(path: string, signal?: AbortSignal): Promise<FileDigest> {
  const hash = createHash('sha256');
  const file = await open(path, 'r');
  // Two buffers: the next read runs (in libuv's thread pool) while this one is hashed on the main thread.
  const buffers: [Buffer, Buffer] = [Buffer.allocUnsafe(HASH_BUFFER_BYTES), Buffer.allocUnsafe(HASH_BUFFER_BYTES)];
  let current: 0 | 1 = 0;
  let size = 0;
  let pending: Promise<{ bytesRead: number }> = file.read(buffers[0], 0, HASH_BUFFER_BYTES, null);
  try {
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      signal?.throwIfAborted();
      const filled = buffers[current];
      current = current === 0 ? 1 : 0;
      pending = file.read(buffers[current], 0, HASH_BUFFER_BYTES, null);
      hash.update(bytesRead === HASH_BUFFER_BYTES ? filled : filled.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await pending.catch(() => undefined);
    await file.close();
  }
  return { sha256: hash.digest('hex'), size };
}

/** `a` and `b` are the same SHA-256 (hex, either case). */
export function sameSha256(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
