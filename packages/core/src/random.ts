import { closeSync, openSync, readSync } from 'node:fs';

/**
 * Random values from the kernel's random source (/dev/urandom, what node:crypto's randomBytes and randomUUID draw
 * from too), without loading node:crypto: that costs about 7 ms of a step's start, which the egress sentinel's
 * entry (before it launches its monitor) and every step's first output would otherwise pay.
 */
function randomBytes(count: number): Buffer {
  const buffer = Buffer.alloc(count);
  const fd = openSync('/dev/urandom', 'r');
  try {
    if (readSync(fd, buffer, 0, count, null) !== count) throw new Error('/dev/urandom returned too few bytes');
  } finally {
    closeSync(fd);
  }
  return buffer;
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** A version 4 UUID (RFC 9562: 122 random bits), as crypto.randomUUID() returns it. */
export function randomUuid(): string {
  const bytes = randomBytes(16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
