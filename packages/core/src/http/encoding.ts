import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { once } from '../lazy.js';

/**
 * Content codings of a response body (`Content-Encoding`) that the probes decode. undici's `request` hands
 * over the bytes as they came, so a server that compresses (nginx `gzip on` / `gzip_static always`, Caddy
 * `encode gzip zstd`, a CDN's br) would otherwise be judged on its compressed bytes. Built on first use: looking
 * at node:zlib loads it (about 4 ms of a bundle's start), which a step needs only once a response comes.
 */
const decoders = once((): Record<string, (() => Transform) | undefined> => ({
  gzip: () => zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  'x-gzip': () => zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  br: () => zlib.createBrotliDecompress({ finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH }),
  // zstd is in node:zlib since Node 23.8 (the actions run on 24); looked up so that older Nodes only lack it.
  zstd:
    typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function'
      ? () => (zlib as unknown as { createZstdDecompress(): Transform }).createZstdDecompress()
      : undefined,
}));

/** What the probes send as `Accept-Encoding`: every coding they can decode. */
export const acceptEncoding = once(() => ['gzip', 'deflate', 'br', ...(decoders().zstd ? ['zstd'] : [])].join(', '));

/** The codings of a `Content-Encoding` header in the order they were applied; `identity` left out. */
export function contentCodings(header: string | string[] | undefined): string[] {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  return text
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
}

/**
 * `deflate` is meant to be zlib-wrapped (RFC 9110), but some servers send raw deflate; the first two bytes
 * tell them apart (a zlib header is CM=8 and a multiple of 31).
 */
function deflateDecoder(data: Buffer): Transform {
  const zlibWrapped = data.length >= 2 && (data[0]! & 0x0f) === 8 && ((data[0]! << 8) | data[1]!) % 31 === 0;
  const options = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
  return zlibWrapped ? zlib.createInflate(options) : zlib.createInflateRaw(options);
}

function decodeOnce(data: Buffer, coding: string, limit: number): Promise<Buffer> {
  const create = coding === 'deflate' ? () => deflateDecoder(data) : decoders()[coding];
  if (!create) return Promise.reject(new UnsupportedCoding(coding));
  return new Promise((resolve, reject) => {
    const decoder = create();
    const chunks: Buffer[] = [];
    let size = 0;
    decoder.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      // Stop at the body limit: a small compressed body can expand to gigabytes.
      if (size >= limit) {
        decoder.destroy();
        resolve(Buffer.concat(chunks).subarray(0, limit));
      }
    });
    decoder.on('end', () => resolve(Buffer.concat(chunks)));
    decoder.on('error', reject);
    decoder.end(data);
  });
}

export class UnsupportedCoding extends Error {
  constructor(readonly coding: string) {
    super(`Content-Encoding ${coding} is not one health-retry can decode (it accepts ${acceptEncoding()})`);
  }
}

/** Undoes every content coding (last applied first); the result is cut at `limit` bytes. Throws when a coding is unknown or the data is corrupt. */
export async function decodeBody(data: Buffer, codings: readonly string[], limit: number): Promise<Buffer> {
  let body = data;
  for (const coding of [...codings].reverse()) body = await decodeOnce(body, coding, limit);
  return body.subarray(0, limit);
}
