import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { once } from '../lazy.js';
import type { GitHubResponse } from './client.js';

/**
 * ETags of the audit's GETs kept across runs (a file that actions/cache carries from one run to the next): the
 * next run asks with If-None-Match and GitHub answers 304, which does not count against the primary rate limit,
 * for everything that did not change.
 *
 * Threat: the file comes back from a cache another workflow may have written (a pull_request_target workflow saves
 * into the default branch's scope). A forged body paired with the real ETag would be answered 304 and believed.
 * So every entry carries an HMAC-SHA256 keyed with the token of the run that wrote it; an entry whose MAC does not
 * verify with this run's token is ignored (asked for in full). Consequence: the cache helps only while the token
 * stays the same (a PAT, or a GitHub App token within its hour); with a token minted per run it is simply cold.
 * Size is bounded: a file over MAX_BYTES is not read, entries over MAX_ENTRIES are not written.
 */
export interface CachedResponse {
  etag: string;
  response: GitHubResponse;
}

const MAX_BYTES = 64 * 1024 * 1024;
const MAX_ENTRIES = 100_000;

/** Built on first use (see ../lazy.ts), as the audit reads a cache file only when it has one. */
const fileSchema = once(() =>
  z.object({
    version: z.literal(1),
    entries: z.record(
      z.string(),
      z.object({
        etag: z.string(),
        mac: z.string(),
        response: z.object({
          status: z.number().int(),
          url: z.string(),
          data: z.unknown(),
          headers: z.record(z.string(), z.union([z.string(), z.number(), z.undefined()])),
        }),
      }),
    ),
  }),
);

const mac = (token: string, key: string, entry: CachedResponse) =>
  createHmac('sha256', `deploy-gates etag cache\0${token}`)
    .update(JSON.stringify([key, entry.etag, entry.response]))
    .digest('hex');

/** The entries of `path` written with this token; an absent, oversized or malformed file is an empty cache. */
export async function loadEtagCache(path: string, token: string): Promise<Map<string, CachedResponse>> {
  const cache = new Map<string, CachedResponse>();
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined || text.length > MAX_BYTES) return cache;
  let parsed: z.infer<ReturnType<typeof fileSchema>>;
  try {
    parsed = fileSchema().parse(JSON.parse(text));
  } catch {
    return cache;
  }
  for (const [key, entry] of Object.entries(parsed.entries)) {
    const value: CachedResponse = { etag: entry.etag, response: entry.response as GitHubResponse };
    const expected = Buffer.from(mac(token, key, value), 'hex');
    const actual = Buffer.from(entry.mac, 'hex');
    if (actual.length === expected.length && timingSafeEqual(actual, expected)) cache.set(key, value);
  }
  return cache;
}

/** Writes the cache (atomically: a temporary file renamed over the old one). */
export async function saveEtagCache(
  path: string,
  token: string,
  cache: ReadonlyMap<string, CachedResponse>,
): Promise<void> {
  const entries: Record<string, CachedResponse & { mac: string }> = {};
  for (const [key, entry] of [...cache].slice(0, MAX_ENTRIES)) entries[key] = { ...entry, mac: mac(token, key, entry) };
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, JSON.stringify({ version: 1, entries }));
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
